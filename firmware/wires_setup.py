"""How ``firmware.ports.Wires`` writes each output, worked out once at start-up. A start-up
module (``app.START_UP_MODULES``): dropped once the box runs, its code leaves the heap."""

from firmware.ports import PIO_LENGTHS, PIO_STAGE, WIRE_PIO, WIRE_PORT, WIRE_UART


def setup(wires, outputs, whole):
    # ``outputs``: in the router's order, None where absent; a ``ports.Wire`` (a DIN or USB
    # stream of the box's own) or any object with ``send(buf, start, end, now)``; the outputs
    # in ``whole`` (a bitmask: the CV engine) have ``take(status, data1, data2)`` instead.
    n = len(outputs)
    wires.ports = outputs
    # The outputs of each kind, as bitmasks: a loop per kind tests no kind per output.
    wires.uarts = 0
    wires.pios = 0
    wires.usbs = 0
    wires.others = 0
    wires.dins = 0
    wires.whole = whole
    wires.write = [None] * n  # UART and USB: write(buf, start, n); PIO: background_write(view)
    wires.machine = [None] * n  # PIO: its state machine (pending_write)
    wires.stages = [None] * n  # PIO: its two stage buffers
    wires.views = [None] * n  # PIO: a view of each stage per length, made once (no slicing)
    wires.next_stage = bytearray(n)
    wires.fill = [0] * n  # the FIFO estimate, eighths of a byte
    wires.filled = 0  # outputs whose estimate is not 0
    wires.drained_at = 0  # the ms tick the estimates are at
    wires.took = bytearray(n)  # per output that took less than the whole message: what it took
    for o in range(n):
        port = outputs[o]
        kind = getattr(port, "kind", WIRE_PORT)
        if kind == WIRE_PIO:
            wires.pios |= 1 << o
            sm = port.stream
            wires.machine[o] = sm
            wires.write[o] = sm.background_write
            stages = (bytearray(PIO_STAGE), bytearray(PIO_STAGE))
            wires.stages[o] = stages
            wires.views[o] = tuple(tuple(memoryview(st)[:k] if PIO_LENGTHS[k] == k else None
                                         for k in range(PIO_STAGE + 1)) for st in stages)
        elif kind == WIRE_PORT:
            wires.others |= 1 << o
        else:
            wires.write[o] = port.stream.write
            if kind == WIRE_UART:
                wires.uarts |= 1 << o
            else:
                wires.usbs |= 1 << o
    wires.dins = wires.uarts | wires.pios
