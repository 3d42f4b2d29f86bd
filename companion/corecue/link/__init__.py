"""Talking to one belt. The protocol client (requests, events, the windowed download), its errors
and records, the two transports (USB serial, Bluetooth LE through bleak), and which belt a command
means: finding belts, their names, a connection that reconnects and resumes. May import
corecue.interp only, and the twin (corecue.twin) only in connect.py, where a virtual belt is
chosen as the transport."""
