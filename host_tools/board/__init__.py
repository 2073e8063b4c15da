"""The board engine: the firmware on real CircuitPython on an emulated RP2040 (docs/board-engine.md)."""
