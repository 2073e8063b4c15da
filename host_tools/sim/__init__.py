"""Simulated hardware for the unchanged firmware: virtual time, DIN wires, USB, the DAC and jacks."""
