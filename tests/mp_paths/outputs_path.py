# The outputs on the MicroPython VM: firmware.ports.Wires over a UART-like stream, an rp2pio
# state machine (background writes through two stage buffers) and a USB port, as the merger calls
# them: a message to them all (send_message), a timing byte (send_timing), queued bytes one
# output at a time (send); sends that fit, sends the estimate refuses, a stage refused while a
# write waits to start. Every call allocates nothing. tests/test_hot_paths.py runs this.
import mpharness

from firmware import ports


class Uart:
    # busio.UART's write(buf, offset, length): says how many bytes it took.
    def __init__(self):
        self.sent = 0

    def write(self, buf, start=0, n=-1):
        if n < 0:
            n = len(buf) - start
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
usb = Uart()
wires = ports.Wires([ports.Wire(ports.WIRE_UART, uart), ports.Wire(ports.WIRE_PIO, sm), ports.Wire(ports.WIRE_USB, usb)])
msg = bytearray(b"\x90\x3c\x64")
out_key = [-1, -1, -1]
now = [0]


def play():
    # One ms: a note and a clock byte to each output (the estimate drains 3 bytes a ms), then
    # the same note's bytes one output at a time, as from a queue.
    now[0] += 1
    t = now[0]
    wires.send_message(7, msg, 3, t, out_key, 0x90)
    wires.send_timing(7, 0xF8, t)
    sm.pending_write = 0
    for o in range(3):
        wires.send(o, msg, 0, 3, t)
    sm.pending_write = 0


def burst():
    # More than the estimate lets out in one ms: the rest is refused, not blocked on.
    t = now[0]
    for _ in range(4):
        wires.send_message(7, msg, 3, t, out_key, 0x90)
        wires.send(1, msg, 0, 3, t)


mpharness.check_no_alloc("din_out_play", play, warmup=2)
mpharness.check_no_alloc("din_out_burst", burst, warmup=2)
print("UART_SENT", uart.sent, "PIO_WRITES", sm.writes)
