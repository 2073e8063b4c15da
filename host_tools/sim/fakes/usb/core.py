"""Fake ``usb.core`` as CircuitPython 10.3 has it (``shared-bindings/usb/core``,
``shared-module/usb/core/Device.c``): ``find``, ``Device`` with ``set_configuration``,
``ctrl_transfer``, ``read`` and ``write`` (timeouts in ms, 0 = for ever; no
``raise_on_timeout``, which later versions add), ``USBError`` and ``USBTimeoutError``.

The device behind it is the world's ``usbh_device`` (host_tools/sim/usbhost.py), reached only
through a ``usb_host.Port`` opened on the board's pins."""

from host_tools.sim import usbhost as _usbhost
from host_tools.sim import world as _world


class USBError(OSError):
    """Catchall exception for USB related errors."""


class USBTimeoutError(USBError):
    """Raised when a USB transfer times out."""


def _device_model():
    w = _world.current()
    if w.__dict__.get("usb_host_port") is None:
        raise RuntimeError("No usb host port initialized")
    return w, w.__dict__.get("usbh_device")


def find(find_all=False, *, idVendor=None, idProduct=None):
    w, model = _device_model()
    w.charge(_usbhost.CALL_NS)
    found = []
    if model is not None and model.enumerated(w.now_ns):
        if (idVendor is None or idVendor == _usbhost.VENDOR) and (idProduct is None or idProduct == _usbhost.PRODUCT):
            found.append(Device(model, model.generation))
    if find_all:
        return iter(found)
    return found[0] if found else None


def _buffer(obj, writable):
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError("object with buffer protocol required") from None
    if writable and view.readonly:
        raise TypeError("object with buffer protocol required")
    return view.cast("B")


class Device:
    def __init__(self, model, generation):
        self._model = model
        self._generation = generation
        self._configured = False
        self.idVendor = _usbhost.VENDOR
        self.idProduct = _usbhost.PRODUCT
        self.product = "KeyStep"
        self.manufacturer = "Arturia"
        self.serial_number = None

    def _check(self, w):
        # Transfers to a device that has gone: TinyUSB refuses them (USBError).
        m = self._model
        if not m.plugged or m.generation != self._generation:
            raise USBError("USB error")

    def set_configuration(self, configuration=1):
        w = _world.current()
        self._check(w)
        w.advance_to(_usbhost.next_frame(w.now_ns) + (2 * _usbhost.CONTROL_FRAMES - 1) * _usbhost.FRAME_NS)
        self._check(w)
        self._configured = True

    def ctrl_transfer(self, bmRequestType, bRequest, wValue=0, wIndex=0, data_or_wLength=None, timeout=None):
        w = _world.current()
        self._check(w)
        w.advance_to(_usbhost.next_frame(w.now_ns) + (_usbhost.CONTROL_FRAMES - 1) * _usbhost.FRAME_NS)
        self._check(w)
        if bmRequestType == 0x80 and bRequest == 6 and wValue >> 8 == 2 and data_or_wLength is not None:
            view = _buffer(data_or_wLength, True)
            desc = _usbhost.CONFIG_DESCRIPTOR
            n = min(len(view), len(desc))
            view[:n] = desc[:n]
            return n
        raise USBError("Pipe error")  # a request the modelled device stalls

    def _transfer_end(self, w, timeout, ready):
        # The call blocks from frame to frame until ``ready(frame)`` (then the transfer is done
        # at that frame) or until the timeout (USBTimeoutError). Returns the frame's time.
        w.charge(_usbhost.CALL_NS)
        limit = _usbhost.deadline(w.now_ns, timeout or 0)
        frame = _usbhost.next_frame(w.now_ns)
        while limit is None or frame < limit:
            w.advance_to(frame)  # what is due by then happens first (a byte played, an unplug)
            self._check(w)
            if ready(frame):
                return frame
            frame += _usbhost.FRAME_NS
        w.advance_to(limit)
        self._check(w)
        raise USBTimeoutError("Timeout")

    def read(self, endpoint, size_or_buffer, timeout=None):
        w = _world.current()
        self._check(w)
        view = _buffer(size_or_buffer, True)
        if not self._configured or endpoint != _usbhost.IN_ENDPOINT:
            raise USBError("Could not open endpoint")
        m = self._model

        def ready(frame):
            return bool(m.to_host) and m.to_host[0][0] <= frame

        self._transfer_end(w, timeout, ready)
        n = 0
        while m.to_host and n + 4 <= len(view) and n < 4 * _usbhost.PACKETS_PER_FRAME and m.to_host[0][0] <= w.now_ns:
            view[n:n + 4] = m.to_host.popleft()[1]
            n += 4
        return n

    def write(self, endpoint, data, timeout=None):
        w = _world.current()
        self._check(w)
        view = _buffer(data, False)
        if not self._configured or endpoint != _usbhost.OUT_ENDPOINT:
            raise USBError("Could not open endpoint")
        payload = bytes(view)
        end = self._transfer_end(w, timeout, lambda frame: True)
        for k in range(0, len(payload) - 3, 4):
            for b in _usbhost.midi_bytes(payload[k:k + 4]):
                self._model.received.record(end, b)
        return len(payload)
