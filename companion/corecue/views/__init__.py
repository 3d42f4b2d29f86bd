"""What a person sees: live effort and its bar, the text tables of the history, reports (PNG and
HTML), exports (CSV and JSON), calibration verdicts in words, and prompts that keep a belt
connected while a person reads. May import corecue.history, corecue.link and corecue.interp;
never the commands or the twin."""
