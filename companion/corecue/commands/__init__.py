"""The `corecue` subcommands, each a small function that leaves the work to the layers below: the
runner's commands, the belt's plumbing and plain commands, the guided calibration, pairing,
doctor, and the commands that run the firmware on the desktop (virtual, replay, demo). May import
every other package; only corecue.cli imports this one, and of the commands only virtual.py
imports the twin."""
