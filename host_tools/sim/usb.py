"""The simulated computer on the other end of USB MIDI.

USB has flow control: bytes the host sends wait on the host until the device reads them, so
nothing is lost. Bytes the device writes leave at the moment of the write (a USB frame is 1 ms;
the latency figures of the README state they are measured at the device)."""

from collections import deque

from host_tools.sim import world as _world
from host_tools.sim.wires import Wire


class UsbLink:
    def __init__(self):
        self.to_device = deque()
        self.from_device = Wire("usb")
        self.sent = 0

    def schedule(self, timed_bytes):
        w = _world.current()
        for t, b in timed_bytes:
            w.at(t, lambda b=b: self._arrive(b))

    def _arrive(self, b):
        self.sent += 1
        self.to_device.append(b)
