"""Host-side entry points that run the unchanged firmware (firmware/) under MicroPython or
CPython. They only move bytes in and out; every figure is computed by the firmware modules."""
