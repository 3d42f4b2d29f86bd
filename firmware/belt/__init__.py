# The belt's firmware core. Nothing in this package imports `machine` or `bluetooth`: the board
# (firmware/boards/) owns every pin and peripheral and is handed in by main.py.

# Reported in the protocol's HELLO reply; the companion shows it and may refuse a belt by it.
FIRMWARE_VERSION = "0.1.0"
