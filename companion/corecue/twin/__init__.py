"""The belt's digital twin, for tests, benchmarks and the people who try the companion without a
belt: the unchanged firmware on the simulated board, in this process (virtualbelt) or under
MicroPython (mpbelt, mpble), the reference board's own code on the unix port (esp32twin, with
unixport/ and radioserver), the emulated Bluetooth LE radio (radio/), the firmware host scripts
(fwhost/) and CPython shims (mpshim/), the synthetic runner, and replay of CSV recordings. Only
the silicon is simulated. May import corecue.link, corecue.flash (to build the firmware as it is
deployed) and corecue.interp; imported only by corecue.link.connect (a virtual belt as the
transport), the commands that run it, and tests."""
