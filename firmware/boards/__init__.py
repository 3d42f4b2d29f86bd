# One module per board: the only place that names pins and peripherals.
