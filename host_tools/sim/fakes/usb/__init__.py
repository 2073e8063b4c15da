"""Fake ``usb`` package: ``usb.core`` (the CircuitPython subset of PyUSB)."""
