"""Host-side tools for Thruway: the simulator, benchmarks, config checks and the flasher.

Run as ``python -m host_tools <command>``."""
