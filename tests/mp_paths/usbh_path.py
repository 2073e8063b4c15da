# The USB host port's per-pass work on the MicroPython VM (tests/test_hot_paths.py runs this file):
# a read that brings a transfer of packets (a chord: several packets in one transfer) and a send
# that packs a note, a running-status note, a SysEx and a clock byte into packets and writes them
# allocate nothing (firmware/usb_host_port.py; the device is a small real stand-in).
import mpharness

from firmware.usb_host_port import UsbHostPort


class Timeout(OSError):
    pass


class Gone(OSError):
    pass


CHORD = bytes((0x09, 0x90, 0x3C, 0x64, 0x09, 0x90, 0x40, 0x64, 0x09, 0x90, 0x43, 0x64, 0x0F, 0xF8, 0, 0))


class Device:
    # usb.core.Device's read(endpoint, buffer, timeout, raise_on_timeout=) and write: a read
    # returns the chord, a write keeps the packets' count.
    def __init__(self):
        self.packets = 0

    def read(self, endpoint, buf, timeout, raise_on_timeout=True):
        n = len(CHORD)
        buf[:n] = CHORD
        return n

    def write(self, endpoint, data, timeout):
        self.packets += len(data) // 4
        return len(data)


class Clock:
    def __init__(self):
        self.now = 0

    def __call__(self):
        return self.now


ticks = Clock()
port = UsbHostPort(None, Timeout, Gone, ticks, 5)
device = Device()
port.device = device
port.ep_in, port.ep_out, port.quiet = 0x81, 0x02, True
buf = bytearray(64)
got = [0]


def read():
    got[0] += port.read(buf)


STREAM = bytes((0x90, 0x3C, 0x64, 0x3C, 0x00, 0xF0, 0x43, 0x10, 0x4C, 0xF8, 0x00, 0xF7, 0xB0, 0x01, 0x40))


def send():
    k = 0
    while k < len(STREAM):
        k += port.send(STREAM, k, len(STREAM), ticks.now)


mpharness.check_no_alloc("usbh_read", read, warmup=1)
mpharness.check_no_alloc("usbh_send", send, warmup=1)
print("USBH_BYTES_IN", got[0], "USBH_PACKETS_OUT", device.packets)
