# The DIN outputs on the MicroPython VM: firmware.ports.DinOut over a UART-like stream and over a
# PioStage (rp2pio background writes through two stage buffers), as the merger calls them for
# every message: sends that fit, sends the estimate refuses, a stage refused while a write waits
# to start, and real-time bytes. Every call allocates nothing. tests/test_hot_paths.py runs this.
import mpharness

from firmware import ports


class Uart:
    # busio.UART's write(buf, offset, length): says how many bytes it took.
    def __init__(self):
        self.sent = 0

    def write(self, buf, start, n):
        self.sent += n
        return n


class StateMachine:
    # rp2pio.StateMachine's background_write / pending_write: a buffer waits to start while the
    # one before it is still being fed; here every third write leaves one waiting.
    def __init__(self):
        self.pending_write = 0
        self.writes = 0
        self.last = bytearray(8)

    def background_write(self, once):
        self.writes += 1
        for k in range(len(once)):
            self.last[k] = once[k]
        self.pending_write = 1 if self.writes % 3 == 0 else 0


uart = Uart()
sm = StateMachine()
outs = [ports.DinOut(uart), ports.DinOut(ports.PioStage(sm))]
msg = bytearray(b"\x90\x3c\x64\xf8")
now = [0]


def play():
    # One ms: a note and a clock byte to each output (the estimate drains 3 bytes a ms).
    now[0] += 1
    t = now[0]
    for out in outs:
        out.send(msg, 0, 3, t)
        out.send(msg, 3, 4, t)
    sm.pending_write = 0


def burst():
    # More than the estimate lets out in one ms: the rest is refused, not blocked on.
    t = now[0]
    for out in outs:
        for _ in range(4):
            out.send(msg, 0, 3, t)


mpharness.check_no_alloc("din_out_play", play, warmup=2)
mpharness.check_no_alloc("din_out_burst", burst, warmup=2)
print("UART_SENT", uart.sent, "PIO_WRITES", sm.writes)
