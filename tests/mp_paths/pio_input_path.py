# A PIO input on the MicroPython VM: firmware.ports.pio_in over a state machine whose DMA fills a
# ring (background_read with loop), as the main loop polls it: an empty ring, bytes across the
# ring's end, more waiting than one read takes. Each read hands over the bytes in the order the
# DMA wrote them and marks their slots read; every call allocates nothing.
# tests/test_hot_paths.py runs this.
import mpharness

from firmware import ports


class StateMachine:
    # rp2pio.StateMachine's background_read(loop=ring): the DMA writes each byte pushed into the
    # next slot, over and over.
    def __init__(self):
        self.ring = None
        self.at = 0

    def background_read(self, loop):
        self.ring = loop

    def push(self, b):
        self.ring[self.at] = b
        self.at = (self.at + 1) % len(self.ring)


sm = StateMachine()
pio = ports.pio_in(sm)
assert len(sm.ring) == ports.RX_RING and all(v == ports.RX_EMPTY for v in sm.ring)
buf = bytearray(ports.READ_SIZE)
read = pio.reader
sent = [0]
got = [0]


def idle():
    assert read(buf) == 0


def arrive(n):
    # n bytes through the DMA: 0, 1, ..., 255, 0, ... (every byte value, 0 and 0xFF included)
    for _ in range(n):
        sm.push(sent[0] & 0xFF)
        sent[0] += 1


def take():
    # What one read hands over: the bytes that came, in order, at most READ_SIZE.
    n = read(buf)
    for k in range(n):
        assert buf[k] == got[0] & 0xFF
        got[0] += 1
    return n


def play():
    # A message arrives and is read; the ring's end is crossed every 128 / 3 calls.
    arrive(3)
    assert take() == 3


def burst():
    # More than one read takes: the rest waits in the ring for the next.
    arrive(ports.READ_SIZE + 10)
    assert take() == ports.READ_SIZE
    assert take() == 10


mpharness.check_no_alloc("pio_in_idle", idle, warmup=2)
mpharness.check_no_alloc("pio_in_play", play, warmup=50)
mpharness.check_no_alloc("pio_in_burst", burst, warmup=3)
assert got[0] == sent[0] and all(v == ports.RX_EMPTY for v in sm.ring)
print("PIO_IN_READ", got[0])
