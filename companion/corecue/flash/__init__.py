"""Putting the firmware on a belt: which files go (firmware/manifest.txt), compiling them with
mpy-cross, and copying them with mpremote while keeping the belt's own data. May import
corecue.interp only."""
