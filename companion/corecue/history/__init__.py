"""Sync and the runner's history. Sync (download, store, confirm), the store (corecue.db: belts,
sessions, partial downloads, calibrations) and its migrations, session files decoded into arrays,
and the analytics that score them. May import corecue.link and corecue.interp; never the views,
the commands or the twin."""
