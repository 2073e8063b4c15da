"""The instrument plugged into the box's USB host socket (``usbh``, the Pico 2 variant): a
USB-MIDI device the fake ``usb.core`` finds, reads and writes, plugged and unplugged at the
times of ``--events``.

Timing model (CircuitPython 10.3's ``usb.core`` on Pico-PIO-USB; docs/usb-host.md):
- The host runs a USB frame every 1 ms on core 1 (``FRAME_NS``), at ``FRAME_PHASE_NS`` into each
  millisecond of ``supervisor.ticks_ms`` (the two clocks are not aligned on the board; half a
  ms is the middle case). A transfer completes at the first frame after it is posted in which
  the device has something (IN) or takes it (OUT).
- ``Device.read/write(endpoint, buffer, timeout)``: ``timeout`` in ms, 0 waits for ever. The
  call gives up when ``ticks_ms`` has moved ``timeout`` times (``USBTimeoutError``): with 1, at
  the next ms boundary. So the call blocks the firmware until then; that time is charged.
- The device keeps what it plays while nobody reads (USB flow control: it NAKs); what it plays
  while unplugged is lost (counted in ``unheard``).
- After a plug, ``find()`` sees the device once it is enumerated, ``ENUMERATION_NS`` later (an
  estimate: bus reset, address, descriptors; not measured). Every plug gives a new ``Device``;
  one from before an unplug raises ``USBError`` on every transfer.
Call costs are estimates (the board engine emulates the RP2040 only: rp2040js has no RP2350 and
no model of Pico-PIO-USB's bit timing): a transfer call as a USB MIDI read, a control transfer
three frames.
"""

from collections import deque

from host_tools.sim import costs, ticks
from host_tools.sim import world as _world
from host_tools.sim.wires import Wire

NS_PER_MS = 1_000_000
FRAME_NS = NS_PER_MS
FRAME_PHASE_NS = NS_PER_MS // 2
ENUMERATION_NS = 100 * NS_PER_MS
CALL_NS = costs.USB_READINTO  # a transfer call's own CPU time (estimate: a USB MIDI read)
CONTROL_FRAMES = 3  # a control transfer: setup, data, status
PACKETS_PER_FRAME = 16  # a full-speed bulk transfer of 64 bytes
IN_ENDPOINT = 0x81
OUT_ENDPOINT = 0x02
VENDOR, PRODUCT = 0x1C75, 0x0288  # an Arturia KeyStep's IDs (the device modelled)

# USB-MIDI 1.0: code index number of a message by its status byte, and MIDI bytes per packet.
_CIN_BYTES = (0, 0, 2, 3, 3, 1, 2, 3, 3, 3, 3, 3, 2, 2, 3, 1)


def _config_descriptor():
    # A USB-MIDI device's configuration: audio control interface 0, MIDI streaming interface 1
    # with one embedded IN jack and one OUT jack, bulk endpoints 0x02 (OUT) and 0x81 (IN).
    ac = bytes((9, 4, 0, 0, 0, 1, 1, 0, 0)) + bytes((9, 0x24, 1, 0, 1, 9, 0, 1, 1))
    jacks = (bytes((6, 0x24, 2, 1, 1, 0)) + bytes((6, 0x24, 2, 2, 2, 0))
             + bytes((9, 0x24, 3, 1, 3, 1, 2, 1, 0)) + bytes((9, 0x24, 3, 2, 4, 1, 1, 1, 0)))
    ms_header = bytes((7, 0x24, 1, 0, 1)) + (7 + len(jacks) + 9 + 5 + 9 + 5).to_bytes(2, "little")
    ms = bytes((9, 4, 1, 0, 2, 1, 3, 0, 0)) + ms_header + jacks
    ms += bytes((9, 5, OUT_ENDPOINT, 2, 64, 0, 0, 0, 0)) + bytes((5, 0x25, 1, 1, 1))
    ms += bytes((9, 5, IN_ENDPOINT, 2, 64, 0, 0, 0, 0)) + bytes((5, 0x25, 1, 1, 3))
    body = ac + ms
    total = 9 + len(body)
    return bytes((9, 2)) + total.to_bytes(2, "little") + bytes((2, 1, 0, 0x80, 50)) + body


CONFIG_DESCRIPTOR = _config_descriptor()


def packets(data, status=0):
    """``(packets, status)``: the USB-MIDI packets (cable 0) of MIDI bytes ``data`` (running
    status, SysEx of any length and real-time bytes understood), and the running status after."""
    out = []
    msg = []
    sysex = None
    for b in data:
        if b >= 0xF8:
            out.append(bytes((0x0F, b, 0, 0)))
            continue
        if b == 0xF0:
            sysex = [b]
            continue
        if sysex is not None:
            # A SysEx goes out three bytes a packet as it comes (a timing byte between them
            # goes first), its end with the 1-3 bytes left.
            if b < 0x80:
                sysex.append(b)
                if len(sysex) == 3:
                    out.append(bytes([0x04] + sysex))
                    sysex = []
                continue
            if b == 0xF7:
                sysex.append(b)
                out.append(bytes([4 + len(sysex)] + sysex + [0] * (3 - len(sysex))))
                sysex = None
                continue
            sysex = None  # cut by a status byte: dropped, as a receiver would
        if b >= 0x80:
            status = b if b < 0xF0 else 0
            msg = [b]
            if b == 0xF6:
                out.append(bytes((0x05, b, 0, 0)))
                msg = []
            continue
        if not msg:
            if not status:
                continue  # a data byte with no status
            msg = [status]
        msg.append(b)
        s = msg[0]
        need = 3 if (s < 0xF0 and s & 0xE0 != 0xC0) or s == 0xF2 else 2
        if len(msg) == need:
            cin = s >> 4 if s < 0xF0 else (0x03 if need == 3 else 0x02)
            out.append(bytes([cin] + msg + [0] * (3 - need)))
            msg = []
    return out, status


def midi_bytes(packet):
    """The MIDI bytes a USB-MIDI packet carries."""
    return bytes(packet[1:1 + _CIN_BYTES[packet[0] & 0x0F]])


class UsbHostDevice:
    """The instrument: its queue of packets for the host, its plug state and what it received."""

    def __init__(self, plugged):
        self.plugged = plugged
        self.plugged_at = 0
        self.generation = 1 if plugged else 0  # which plug-in a Device object belongs to
        self.to_host = deque()  # (time_ns, packet) played and not yet read
        self.received = Wire("usbh")  # MIDI bytes the box wrote, at the end of their frame
        self.unheard = 0  # bytes played while unplugged (lost)
        self.status = 0  # running status of the input file's bytes
        self.plug_log = []  # (time_ns, "plug" | "unplug")

    def schedule(self, lines):
        w = _world.current()
        for t, data in lines:
            w.at(t, lambda data=data: self._play(data))

    def _play(self, data):
        w = _world.current()
        found, self.status = packets(data, self.status)
        if not self.plugged:
            self.unheard += len(data)
            return
        for p in found:
            self.to_host.append((w.now_ns, p))

    def plug(self):
        w = _world.current()
        if not self.plugged:
            self.plugged = True
            self.plugged_at = w.now_ns
            self.generation += 1
            self.plug_log.append((w.now_ns, "plug"))

    def unplug(self):
        w = _world.current()
        if self.plugged:
            self.plugged = False
            self.to_host.clear()
            self.plug_log.append((w.now_ns, "unplug"))

    def enumerated(self, now_ns):
        return self.plugged and now_ns >= self.plugged_at + ENUMERATION_NS

    def pending(self):
        return bool(self.to_host)


def next_frame(t_ns):
    """The first frame at or after ``t_ns``."""
    k = (t_ns - FRAME_PHASE_NS + FRAME_NS - 1) // FRAME_NS
    return k * FRAME_NS + FRAME_PHASE_NS


def deadline(t_ns, timeout_ms):
    """When a call made at ``t_ns`` with ``timeout_ms`` gives up (the ms tick has moved that many
    times), or None for 0 (for ever)."""
    if not timeout_ms:
        return None
    origin = _world.current().timer_us_at_zero
    return ticks.ns_when(origin, ticks.ms64(origin, t_ns) + timeout_ms)
