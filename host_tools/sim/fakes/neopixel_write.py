"""Fake ``neopixel_write``: the WS2812 chain's frames, recorded in the world.

On the RP2040 CircuitPython clocks the bytes out with a PIO state machine it borrows for the
call, and the call returns when the last bit has left: 24 bits a pixel at 800 kHz, 30 us a
pixel (270 us for the box's 9). That wire time is charged here as CPU time, as it blocks the
main loop on the board. ``world.led_frames`` gets ``(time_ns, bytes)`` for each write (the time
the last bit left), per GPIO in ``world.neopixels``."""

from host_tools.sim import costs
from host_tools.sim import world as _world

BIT_NS = 1250  # 800 kHz
SETUP_NS = costs.NEOPIXEL_SHOW  # Python call, state machine set-up and tear-down


def neopixel_write(digitalinout, buf):
    from digitalio import DigitalInOut, Direction

    if not isinstance(digitalinout, DigitalInOut):
        raise TypeError("digitalinout must be of type DigitalInOut, not %s" % type(digitalinout).__name__)
    if digitalinout.direction != Direction.OUTPUT:
        # The board's neopixel_write drives the pin itself; the firmware sets it to output first
        # (board_io does), so a pin left as input is a firmware bug worth seeing here.
        raise ValueError("neopixel_write: %r is not an output" % digitalinout._pin)
    data = bytes(memoryview(buf).cast("B"))
    w = _world.current()
    used = w.__dict__.get("pio_state_machines", [0])
    if used[0] >= 4 * w.__dict__.get("pio_block_count", 2):  # 4 state machines a PIO block
        raise RuntimeError("All state machines in use")
    w.charge(SETUP_NS)
    w.wait(len(data) * 8 * BIT_NS)  # the wire time: the call returns when the frame is out
    frames = w.__dict__.setdefault("neopixels", {}).setdefault(digitalinout._pin.number, [])
    frames.append((w.now_ns, data))
    w.__dict__.setdefault("led_frames", []).append((w.now_ns, data))
