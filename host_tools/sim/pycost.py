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
import re
import sys

from host_tools.sim import costs

pending_cycles = 0  # Python cycles run since the last hardware call, not yet on the clock
# Start-up (imports, the config check, building every preset's tables) is not charged: the
# simulator's time 0 is the moment the box is ready (README "Timing model"); the board engine
# reports the real start-up time.
live = False

_weights = {}  # code object -> (per-instruction cycles by offset // 2, method receivers)


_consts = {}  # file name -> the names its module defines with const()
_CONST_DEF = re.compile(r"^(\w+)\s*=\s*const\(", re.M)


def _const_names(filename):
    # MicroPython's compiler replaces a name the module assigned with const() by its value: on
    # the board it is a constant, where CPython loads a global.
    names = _consts.get(filename)
    if names is None:
        try:
            with open(filename) as f:
                names = frozenset(_CONST_DEF.findall(f.read()))
        except OSError:
            names = frozenset()
        _consts[filename] = names
    return names


def _scan(code):
    """What the board does differently from CPython's bytecode, found once per code object:
    loads of const() names, `for ... in range(...)` loops (MicroPython counts them without an
    iterator), calls of built-in functions, and method look-ups on a local (their cost depends on
    the object, found as they run)."""
    consts = _const_names(code.co_filename)
    range_ops = set()  # offsets of a range loop's set-up (range, its CALL) and its FOR_ITER
    builtin_calls = set()
    receivers = {}  # index of a LOAD_METHOD on a local -> (the local's name, the method's)
    callee = []  # per pending call: the global it loads, or None
    range_called = False  # range(...) was called: the next FOR_ITER runs its loop
    prev = None
    for ins in dis.get_instructions(code):
        op = ins.opname
        if op == "LOAD_GLOBAL":
            callee.append(ins.argval)
            if ins.argval == "range":
                range_ops.add(ins.offset)
        elif op == "LOAD_METHOD":
            callee.append(None)
            if prev is not None and prev.opname == "LOAD_FAST":
                receivers[ins.offset // 2] = (prev.argval, ins.argval)
        elif op == "CALL" and callee:
            name = callee.pop()
            if name == "range":
                range_ops.add(ins.offset)
                range_called = True
            elif name in _BUILTINS:
                builtin_calls.add(ins.offset)
        elif op == "FOR_ITER" and range_called:
            range_ops.add(ins.offset)
            range_called = False
        prev = ins
    return consts, range_ops, builtin_calls, receivers


_BUILTINS = frozenset(("len", "min", "max", "abs", "isinstance", "getattr", "hasattr", "print", "int", "bytes",
                       "bytearray", "memoryview", "sorted", "sum", "any", "all", "list", "tuple", "dict", "str"))


def _code_weights(code):
    """(per-instruction cycles by offset // 2, method look-ups on locals) of a code object."""
    found = _weights.get(code)
    if found is None:
        per_op = costs.PY_OP_CYCLES
        default = costs.PY_OP_DEFAULT
        consts, range_ops, builtin_calls, receivers = _scan(code)
        table = [0] * (len(code.co_code) // 2)
        for ins in dis.get_instructions(code):
            op = ins.opname
            if op == "LOAD_GLOBAL" and ins.argval in consts:
                cost = per_op["LOAD_CONST"]
            elif ins.offset in range_ops:
                cost = per_op[op + " range"]
            elif ins.offset in builtin_calls:
                cost = per_op["CALL builtin"]
            else:
                # "BINARY_OP //" before "BINARY_OP": a division costs more than an addition.
                cost = per_op.get("%s %s" % (op, ins.argrepr))
                if cost is None:
                    cost = per_op.get(op, default)
            table[ins.offset // 2] = cost
        found = _weights[code] = (table, receivers)
    return found


_FIRMWARE, _HARDWARE, _BUILT_IN = 0, 1, 2
_kinds = {}  # type -> what calling a method of it is on the board


def _kind(cls):
    kind = _kinds.get(cls)
    if kind is None:
        module = getattr(cls, "__module__", "") or ""
        if module.startswith("firmware") or module == "__main__":
            kind = _FIRMWARE
        elif module in ("builtins", "array", "collections"):
            kind = _BUILT_IN
        else:
            kind = _HARDWARE  # a fake hardware module: the fake charges the whole call
        _kinds[cls] = kind
    return kind


def _method_call(frame, receiver):
    """The part of a method call's cost that depends on its object, charged at its LOAD_METHOD
    (which, with its CALL, has been charged for a firmware method on a small object)."""
    name, method = receiver
    obj = frame.f_locals.get(name)
    kind = _kind(type(obj))
    if kind == _FIRMWARE:
        return 0  # charged as the method starts (_method_lookup)
    per_op = costs.PY_OP_CYCLES
    if kind == _HARDWARE:
        return -(per_op["LOAD_METHOD"] + per_op["CALL"])
    return per_op["CALL builtin"] - per_op["LOAD_METHOD"] - per_op["CALL"] + costs.PY_BUILTIN_METHOD_LOOKUP


def _method_lookup(frame):
    # A method of a firmware object: the instance's own attributes are searched first, and that
    # miss costs more the more attributes it has (measured: docs/design.md). Charged as the
    # method starts, whichever way its object was reached.
    code = frame.f_code
    if not code.co_argcount or code.co_varnames[0] != "self":
        return 0
    attrs = getattr(frame.f_locals.get("self"), "__dict__", None)
    if attrs is None or code.co_name in attrs:
        return 0
    return costs.PY_METHOD_PER_ATTRIBUTE * len(attrs)


def tracer(roots):
    """A ``sys.settrace`` function that charges frames whose file starts with one of ``roots``."""
    roots = tuple(str(r) for r in roots)

    def on_call(frame, event, arg):
        if not frame.f_code.co_filename.startswith(roots):
            return None  # host code and fakes: their cost is the fakes' business
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        table, receivers = _code_weights(frame.f_code)
        global pending_cycles
        pending_cycles += costs.PY_FRAME_CYCLES + _method_lookup(frame)

        def on_opcode(frame, event, arg):
            if event == "opcode":
                global pending_cycles
                k = frame.f_lasti >> 1
                pending_cycles += table[k]
                if k in receivers:
                    pending_cycles += _method_call(frame, receivers[k])
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
