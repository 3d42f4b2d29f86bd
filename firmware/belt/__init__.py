# The belt's firmware core. Nothing in this package imports `machine` or `bluetooth`: the board
# (firmware/boards/) owns every pin and peripheral and is handed in by main.py.
