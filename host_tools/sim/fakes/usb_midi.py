"""Fake ``usb_midi``: one PortIn and one PortOut when the simulated host is attached."""

from host_tools.sim import stream
from host_tools.sim import world as _world

_names = {}
_enabled = True


class PortIn:
    def __init__(self, link):
        self._link = link

    def readinto(self, buf, nbytes=None):
        w = _world.current()
        want = len(buf) if nbytes is None else min(nbytes, len(buf))
        q = self._link.to_device
        n = min(want, len(q))
        w.charge_ring_polls()
        w.charge_read(w.cost("USB_READINTO"), n)
        for k in range(n):
            buf[k] = q.popleft()
        return n

    def read(self, nbytes=None):
        buf = bytearray(nbytes if nbytes is not None else 64)
        n = self.readinto(buf)
        return bytes(buf[:n])


class PortOut:
    def __init__(self, link):
        self._link = link

    def write(self, buf, *args):
        w = _world.current()
        data = stream.span(buf, args)
        w.charge(w.cost("USB_WRITE_BASE"))
        for b in data:
            self._link.from_device.record(w.now_ns, b)
        return len(data)


def _ports():
    link = _world.current().usb
    if link is None:
        return ()
    return (PortIn(link), PortOut(link))


ports = _ports()


def enable():
    global _enabled
    _enabled = True


def disable():
    global _enabled
    _enabled = False


def set_names(
    *,
    streaming_interface_name=None,
    audio_control_interface_name=None,
    in_jack_name=None,
    out_jack_name=None,
):
    for key, value in (
        ("streaming_interface_name", streaming_interface_name),
        ("audio_control_interface_name", audio_control_interface_name),
        ("in_jack_name", in_jack_name),
        ("out_jack_name", out_jack_name),
    ):
        if value is not None:
            if len(value) > 126:
                raise ValueError("%s must be at most 126 characters" % key)
            _names[key] = value
