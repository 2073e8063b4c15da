"""Charge the firmware's own Python to the virtual clock, operation by operation.

On the board every Python operation costs CPU time (an attribute load about 221 cycles, a call
about 900; ``costs.PY_OP_CYCLES``), and that time, not the hardware calls, is most of a pass. The
simulator counts the operations the firmware executes: a trace function, installed only while
the firmware runs, sees each bytecode instruction of a frame whose code lives in ``firmware/``
or is ``code.py``, and adds that instruction's board cost to ``pending``. ``World.charge`` (the
next call into fake hardware) spends what is pending first, so time moves where the board's
would have. Counting is exact and deterministic (no host clock), so the same inputs still give
the same outputs.

CPython's bytecode is not MicroPython's, but the same source compiles to the same kinds of
operations (loads, stores, subscripts, calls, jumps); ``costs.PY_SCALE`` is the one factor fitted
against the board engine (README "Timing model"; ``tests/test_calibration.py`` holds the fit).
"""

import dis
import sys

from host_tools.sim import costs

pending_cycles = 0  # Python cycles run since the last hardware call, not yet on the clock
# Start-up (imports, the config check, building every preset's tables) is not charged: the
# simulator's time 0 is the moment the box is ready (README "Timing model"); the board engine
# reports the real start-up time.
live = False

_weights = {}  # code object -> per-instruction cycles, indexed by instruction offset // 2


def _code_weights(code):
    table = _weights.get(code)
    if table is None:
        table = [0] * (len(code.co_code) // 2)
        per_op = costs.PY_OP_CYCLES
        default = costs.PY_OP_DEFAULT
        for ins in dis.get_instructions(code):
            table[ins.offset // 2] = per_op.get(ins.opname, default)
        _weights[code] = table
    return table


def tracer(roots):
    """A ``sys.settrace`` function that charges frames whose file starts with one of ``roots``."""
    roots = tuple(str(r) for r in roots)

    def on_call(frame, event, arg):
        if not frame.f_code.co_filename.startswith(roots):
            return None  # host code and fakes: their cost is the fakes' business
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        table = _code_weights(frame.f_code)

        def on_opcode(frame, event, arg):
            if event == "opcode":
                global pending_cycles
                pending_cycles += table[frame.f_lasti >> 1]
            return on_opcode

        return on_opcode

    return on_call


def take_ns():
    """The pending Python time in ns (scaled by ``costs.PY_SCALE``); resets the count."""
    global pending_cycles
    c = pending_cycles
    pending_cycles = 0
    if not live:
        return 0
    return int(c * costs.PY_SCALE) * costs.CYCLE_NS


class charging:
    """Context manager: charge the firmware's Python while the block runs."""

    def __init__(self, roots):
        self._trace = tracer(roots)

    def __enter__(self):
        global pending_cycles, live
        pending_cycles = 0
        live = False
        self._saved = sys.gettrace()
        sys.settrace(self._trace)
        return self

    def __exit__(self, *exc):
        global pending_cycles, live
        sys.settrace(self._saved)
        pending_cycles = 0
        live = False
        return False
