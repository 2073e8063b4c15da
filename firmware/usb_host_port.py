"""The USB host port ``usbh``: a USB-MIDI instrument plugged into the box's USB-A socket (the
Pico 2 variant, docs/usb-host.md). One object is both the input and the output port.

``board_io`` builds it with what it needs from CircuitPython's ``usb.core`` (``find`` and the
two error classes) and ``supervisor.ticks_ms``; everything else here is plain logic: USB-MIDI
4-byte packets to a byte stream and back, the plug state, the descriptor walk. So the simulator
and the tests drive it with fakes.

Facts it is built on (CircuitPython 10.3, ``shared-module/usb/core/Device.c``; docs/usb-host.md):
- ``Device.read(endpoint, buffer, timeout)`` / ``write``: ``timeout`` is in ms and 0 waits for
  ever. The shortest wait is 1: the call returns when the transfer completes or when the ms tick
  has moved, so a read with nothing to read blocks up to 1 ms and raises ``USBTimeoutError``
  (an allocation). Later CircuitPython adds ``raise_on_timeout=False`` (returns 0 instead); the
  port uses it when the board's build takes it. So the input is read once every ``POLL_MS``
  (again at once while a read brought data), never every pass.
- An unplugged device's transfers raise ``USBError`` (``USBTimeoutError`` is a subclass: it
  is caught first). ``find()`` returns None while nothing is enumerated.

Limits (docs/usb-host.md): one device, no hub; every virtual cable of the device is merged into
``usbh`` (each packet is a whole message, so messages never mix; a SysEx on two cables at once
would) and the box writes on cable 0.
"""

from micropython import const

from firmware.ticks import ticks_diff

PACKET_BYTES = const(4)
TRANSFER_BYTES = const(64)  # a full-speed bulk transfer: 16 packets (at most 48 MIDI bytes)
POLL_MS = const(2)  # an idle input is read this often (each empty read blocks up to 1 ms)
FIND_MS = const(250)  # an empty socket is looked at this often (find() enumerates in C)
WRITE_TIMEOUT_MS = const(2)  # a device that does not take a transfer by then loses it
DESCRIPTOR_BYTES = const(256)  # the configuration descriptor read at plug-in (more is cut)

# USB-MIDI 1.0, table 4-1: MIDI bytes in a packet, by its code index number (low nibble of
# byte 0). 0 and 1 are reserved.
CIN_BYTES = b"\x00\x00\x02\x03\x03\x01\x02\x03\x03\x03\x03\x03\x02\x02\x03\x01"

_GET_DESCRIPTOR = const(6)
_CONFIGURATION = const(2)
_INTERFACE = const(4)
_ENDPOINT = const(5)
_AUDIO = const(1)
_MIDI_STREAMING = const(3)


def midi_endpoints(desc, n):
    """``(in_endpoint, out_endpoint)`` of the first USB-MIDI streaming interface (audio class,
    subclass 3) in the configuration descriptor ``desc[:n]``; either is 0 when missing."""
    ep_in = ep_out = 0
    inside = False
    k = 0
    while k + 1 < n and desc[k] >= 2:
        kind = desc[k + 1]
        if kind == _INTERFACE and k + 6 < n:
            if ep_in or ep_out:
                break  # the first MIDI interface's endpoints are found
            inside = desc[k + 5] == _AUDIO and desc[k + 6] == _MIDI_STREAMING
        elif kind == _ENDPOINT and inside and k + 2 < n:
            address = desc[k + 2]
            if address & 0x80:
                ep_in = ep_in or address
            else:
                ep_out = ep_out or address
        k += desc[k]
    return ep_in, ep_out


def unpack(packets, n, buf):
    """The MIDI bytes of the USB-MIDI packets ``packets[:n]`` into ``buf``; returns how many.
    ``buf`` holds at least 3 bytes per packet. Padding and reserved packets give nothing."""
    j = 0
    k = 0
    while k + 3 < n:
        length = CIN_BYTES[packets[k] & 0x0F]
        if length:
            buf[j] = packets[k + 1]
            if length > 1:
                buf[j + 1] = packets[k + 2]
                if length > 2:
                    buf[j + 2] = packets[k + 3]
            j += length
        k += PACKET_BYTES
    return j


class Packer:
    """A MIDI byte stream (whole messages, as the merger sends them; running status understood
    all the same) into USB-MIDI packets on cable 0: one packet per message, SysEx three bytes
    a packet, a timing byte its own packet wherever it falls."""

    def __init__(self):
        self.status = 0  # the status in force (0: none; 0xF0 inside a SysEx)
        self.need = 0  # data bytes the message in progress still needs
        self.held = 0  # bytes of it held in part (SysEx: 0-2 before a packet is full)
        self.part = bytearray(3)
        self.filled = 0  # where the last pack() left ``out`` filled to

    def reset(self):
        self.status = self.need = self.held = 0

    def pack(self, buf, start, end, out, room):
        """Packs ``buf[start:end]`` into ``out`` from offset ``room`` on while a packet still
        fits (``out`` is a multiple of 4 long). Returns the bytes consumed; ``filled`` is the
        offset ``out`` is filled to (an attribute: a returned tuple would allocate)."""
        k = start
        size = len(out)
        part = self.part
        while k < end and room + PACKET_BYTES <= size:
            b = buf[k]
            k += 1
            if b >= 0xF8:
                room = _put(out, room, 0x0F, b, 0, 0)
            elif b == 0xF0:
                self.status = 0xF0
                part[0] = b
                self.held = 1
            elif b == 0xF7:
                if self.status == 0xF0:
                    part[self.held] = b
                    self.held += 1
                    held = self.held
                    room = _put(out, room, 4 + held, part[0], part[1] if held > 1 else 0, part[2] if held > 2 else 0)
                self.status = self.held = 0
            elif b >= 0x80:
                self.held = 0
                if b >= 0xF0:
                    # System common: F1 F3 carry one data byte, F2 two, F6 none (F4 F5 undefined).
                    self.status = 0
                    if b == 0xF6:
                        room = _put(out, room, 0x05, b, 0, 0)
                    elif b == 0xF1 or b == 0xF3 or b == 0xF2:
                        part[0] = b
                        self.held = 1
                        self.need = 2 if b == 0xF2 else 1
                        self.status = b
                else:
                    self.status = b
                    self.need = 1 if (b & 0xE0) == 0xC0 else 2
                    part[0] = b
                    self.held = 1
            elif self.status == 0xF0:
                part[self.held] = b
                self.held += 1
                if self.held == 3:
                    room = _put(out, room, 0x04, part[0], part[1], b)
                    self.held = 0
            elif self.status:
                if self.held == 0:
                    part[0] = self.status  # running status: the status again
                    self.held = 1
                part[self.held] = b
                self.held += 1
                if self.held > self.need:
                    s = part[0]
                    cin = s >> 4 if s < 0xF0 else (0x03 if self.need == 2 else 0x02)
                    room = _put(out, room, cin, s, part[1], b if self.need == 2 else 0)
                    self.held = 0
                    if s >= 0xF0:
                        self.status = 0  # system common sets no running status
        self.filled = room
        return k - start


def _put(out, at, cin, b1, b2, b3):
    out[at] = cin  # cable 0
    out[at + 1] = b1
    out[at + 2] = b2
    out[at + 3] = b3
    return at + PACKET_BYTES


class UsbHostPort:
    """``usbh``, input and output: ``read(buf)`` / ``reader`` as ``firmware.ports`` inputs,
    ``send(buf, start, end, now)`` as its outputs. While no MIDI device is plugged in, reads give
    nothing and sends take everything (it goes nowhere: nothing waits for a device that may
    never come).

    ``lost``, set at start-up (``firmware.start``), is called with ``index`` when a device is
    unplugged: the merger releases its notes as for an input lost after active sensing."""

    def __init__(self, find, timeout_error, usb_error, ticks_ms, index, hardware=None):
        self.hardware = hardware  # what board_io opened for it (the host port, its power pin)
        self.find = find
        self.timeout_error = timeout_error
        self.usb_error = usb_error
        self.ticks_ms = ticks_ms
        self.index = index
        self.lost = None
        self.reader = self.read
        self.device = None
        self.ep_in = 0
        self.ep_out = 0
        self.quiet = False  # the build's read takes raise_on_timeout=False
        self.due = ticks_ms()  # when the next read (or look for a device) is due
        self.packets = bytearray(TRANSFER_BYTES)
        self.out = bytearray(TRANSFER_BYTES)
        self.views = [memoryview(self.out)[: PACKET_BYTES * k] for k in range(TRANSFER_BYTES // PACKET_BYTES + 1)]
        self.packer = Packer()
        self.descriptor = bytearray(DESCRIPTOR_BYTES)
        # Counters for the console and the simulator's summary.
        self.plugs = 0
        self.unplugs = 0
        self.not_midi = 0  # devices found without a MIDI streaming interface
        self.write_timeouts = 0  # transfers the device did not take in time (their bytes lost)
        self.product = None

    def read(self, buf):
        now = self.ticks_ms()
        if ticks_diff(now, self.due) < 0:
            return 0
        device = self.device
        if device is None:
            self.due = now + FIND_MS
            self._look(now)
            return 0
        packets = self.packets
        try:
            if self.quiet:
                n = device.read(self.ep_in, packets, 1, raise_on_timeout=False)
            else:
                n = device.read(self.ep_in, packets, 1)
        except self.timeout_error:
            n = 0
        except self.usb_error:
            self._unplugged()
            return 0
        except TypeError:
            # CircuitPython 10.3 has no raise_on_timeout (refused before any transfer): an
            # empty read raises USBTimeoutError from now on.
            self.quiet = False
            return 0
        if not n:
            self.due = now + POLL_MS
            return 0
        return unpack(packets, n, buf)  # more may wait: read again next pass (due stays)

    def send(self, buf, start, end, now):
        if self.device is None:
            return end - start
        packer = self.packer
        taken = packer.pack(buf, start, end, self.out, 0)
        filled = packer.filled
        if filled:
            try:
                self.device.write(self.ep_out, self.views[filled // PACKET_BYTES], WRITE_TIMEOUT_MS)
            except self.timeout_error:
                self.write_timeouts += 1
            except self.usb_error:
                self._unplugged()
        return taken

    def _look(self, now):
        # An empty socket: is a device there now? Opened here, once, at plug-in (it may take
        # tens of ms of control transfers: plugging in is not playing).
        try:
            device = self.find()
            if device is None:
                return
            device.set_configuration()
            desc = self.descriptor
            n = device.ctrl_transfer(0x80, _GET_DESCRIPTOR, _CONFIGURATION << 8, 0, desc, 100)
            ep_in, ep_out = midi_endpoints(desc, n)
            if not ep_in or not ep_out:
                self.not_midi += 1
                return
        except self.usb_error:
            return  # unplugged again while being opened: looked at again later
        self.ep_in = ep_in
        self.ep_out = ep_out
        self.device = device
        self.quiet = True  # until the build refuses it (read)
        self.packer.reset()
        self.plugs += 1
        self.due = now

    def _unplugged(self):
        self.device = None
        self.unplugs += 1
        self.packer.reset()
        self.due = self.ticks_ms() + FIND_MS
        if self.lost is not None:
            self.lost(self.index)
