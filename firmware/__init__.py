"""Thruway firmware: a MIDI merger / thru / MIDI-to-CV box for CircuitPython on the RP2040."""
