"""Thruway hardware: pin map, analog facts, the netlist generator and the analog checks.

``python -m hardware.netlist`` writes ``hardware/thruway.net`` (KiCad netlist) and ``hardware/bom.csv``;
``python -m hardware.analog_check`` prints the analog stage report."""
