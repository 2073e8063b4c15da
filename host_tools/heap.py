"""``python -m host_tools heap [--config FILE] [--board]``: where the box's heap goes.

Builds the box as ``app.run()`` does (the config checked by ``start.load_settings``, the CV engine,
the clock with its timers, the panel, a ``Box``), with scripted ports for the hardware, on the
MicroPython VM of the tests (tests/mpvm.py: 32-bit, the same object layout as CircuitPython),
and prints the live heap (``gc.mem_alloc()`` after ``gc.collect()``):

- after each firmware module is imported (its code, constants and tables: on the board a
  ``.mpy`` module is loaded into the heap the same way);
- after the config is checked, and after each part of the box is built;
- per table: each attribute of the box's objects with an estimate of the heap it holds (16-byte
  GC blocks, headers and item storage; a shared object counts once, for the first attribute that
  reaches it), so the big tables stand out.

A VM figure is a proxy: ``--board`` runs the same steps on the board engine (real CircuitPython
10.3 on an emulated RP2040, the firmware compiled as ``flash`` installs it) with the real
``board_io``, and prints the heap used after each step from ``gc.mem_alloc()`` (docs/design.md,
"Heap", has the figures). Each step runs as its own top-level run of the VM, and
each figure is read after a collection in a later run (the VM frees a run's garbage only then).
"""

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Leaves first, so each import adds one module (an import also loads what it imports).
MODULES = ("ticks", "pinmap", "midi", "router", "ports", "merger", "dac", "voices", "cv", "clock", "panel", "app",
           "start")
# The objects whose attributes are the tables, by the name the VM script gives them.
OBJECTS = ("box", "box.merger", "box.clock", "box.panel", "box.cv")

PRELUDE = "import gc\nimport mpharness\n"
BUILD = '''
from scripted_ports import CountingPin, Jacks, ScriptedTimer, ScriptIn, SinkOut, Ticks
from firmware import app, start
from firmware.clock import Clock
from firmware.cv import CvEngine
from firmware.panel import Panel
import builtins
ticks = Ticks()
hw = Jacks()
builtins.hw = hw
builtins.ticks = ticks
'''
STEPS_BOOT = (
    ("settings", "settings, errors = start.load_settings(CONFIG_TEXT)\nbuiltins.settings = settings\n"
                 "builtins.errors = errors\nprint('ERRORS', len(errors))\n"),
    ("cv_engine", "hw.outputs[5] = CvEngine(hw, ticks.now)\n"),
    ("clock", "builtins.jacks = Clock(CountingPin(), CountingPin(), CountingPin(), CountingPin(), ticks.now, "
              "ScriptedTimer(ticks, 1), ScriptedTimer(ticks, 4, one_shot=True))\n"),
    ("box", "inputs = [ScriptIn(b'', 1), ScriptIn(b'', 1), ScriptIn(b'', 1), ScriptIn(b'', 1), ScriptIn(b'', 1)]\n"
            "outputs = [SinkOut(8), SinkOut(8), SinkOut(8), SinkOut(8), SinkOut(64), hw.outputs[5]]\n"
            "builtins.box = app.Box(inputs, outputs, ticks.now, settings, errors, clock=jacks)\n"),
    ("panel", "pins = [CountingPin(True), CountingPin(True), CountingPin(True), CountingPin(True)]\n"
              "box.panel = Panel(pins, lambda buf: None, bytearray(256), None, len(settings['presets']), "
              "settings['panel'], box.merger.last_rx, ticks.now(), error=bool(errors), fault=False)\n"
              "box.select_preset(0)\n"),
    # As start.build returns: the config text, the full settings and the fakes' lists go.
    ("start-up dropped", "app._forget_start_up()\nstart = None\ndel builtins.settings, builtins.errors, builtins.CONFIG_TEXT\n"
                         "settings = errors = inputs = outputs = pins = None\n"),  # as start.build: only the box stays
)


def _measure(name):
    # What a run dropped is freed only by a collection in a later run, and counted after it
    # (measured on the VM): an empty run, a collection, then the figure.
    return ["pass\n", "gc.collect()\n", "gc.collect()\nprint('HEAP', %r, gc.mem_alloc())\n" % name]


def _vm():
    sys.path.insert(0, str(REPO / "tests"))
    import mpvm

    files = mpvm.firmware_files()
    files["/fw/scripted_ports.py"] = (REPO / "host_tools" / "scripted_ports.py").read_text()
    return mpvm, files


def boot_steps(config_text):
    """VM steps that import the modules and build the box, each followed by a measurement."""
    steps = [PRELUDE] + _measure("start")
    for name in MODULES:
        steps.append("from firmware import %s\n" % name)
        steps += _measure("import " + name)
    steps.append(BUILD)
    steps += _measure("fakes")
    # The file's text, in a run of its own (what the board reads; dropped after start-up).
    steps.append("builtins.CONFIG_TEXT = %r\n" % config_text)
    steps += _measure("config text")
    for name, code in STEPS_BOOT:
        steps.append(code)
        steps += _measure(name)
    return steps


# An estimate of an object's heap bytes on a 32-bit MicroPython / CircuitPython build: the GC
# hands out 16-byte blocks; an object's header and its item storage are separate blocks. Small
# ints, None, bools and interned strings cost nothing. Shared objects count once, for the first
# table that reaches them (the walk goes through OBJECTS in order).
SIZER = """
def _blocks(n):
    return (n + 15) // 16 * 16

def sizeof(o, seen):
    if o is None or o is True or o is False:
        return 0
    i = id(o)
    if i in seen:
        return 0
    t = type(o)
    if t is int:
        return 0 if -0x40000000 <= o < 0x40000000 else 16
    if t is float:
        return 16
    if t is str:
        return 0 if len(o) < 10 else 16 + _blocks(len(o) + 1)
    seen[i] = 1
    if t is bytes:
        return 16 + _blocks(len(o) + 1)
    if t is bytearray:
        return 16 + _blocks(len(o))
    if t is memoryview:
        return 16
    if t.__name__ == "array":
        return 16 + _blocks(len(o) * (len(bytes(o)) // len(o) if len(o) else 0))
    if t is tuple:
        return _blocks(8 + 4 * len(o)) + sum(sizeof(v, seen) for v in o)
    if t is list:
        return 16 + _blocks(4 * len(o)) + sum(sizeof(v, seen) for v in o)
    if t is dict:
        return 16 + _blocks(8 * (len(o) + len(o) // 3 + 1)) + sum(sizeof(k, seen) + sizeof(v, seen) for k, v in o.items())
    d = getattr(o, "__dict__", None)
    if d is not None and not callable(o):
        return 16 + _blocks(8 * (len(d) + len(d) // 3 + 1)) + sum(sizeof(v, seen) for v in d.values())
    return 16
"""


def tables_step():
    """A VM step that prints ``TABLE object.attribute bytes`` for every attribute of OBJECTS."""
    walk = ["seen = {}", "for v in (%s):\n    seen[id(v)] = 1" % ", ".join(OBJECTS)]
    for obj in OBJECTS:
        walk.append("for k in sorted(%s.__dict__):\n    print('TABLE', %r + '.' + k, sizeof(getattr(%s, k), seen))"
                    % (obj, obj, obj))
    return SIZER + "\n".join(walk) + "\n"


def measure(config_text):
    """(boot rows [(step, added bytes, live bytes)], table rows [(object.attribute, bytes)])."""
    mpvm, files = _vm()
    out = mpvm.run(boot_steps(config_text) + [tables_step()], files=files, timeout=300)
    boot = []
    tables = []
    prev = None
    for line in out.splitlines():
        if line.startswith("HEAP "):
            label, value = line[5:].rsplit(" ", 1)
            value = int(value)
            boot.append((label.strip("'"), value - (prev if prev is not None else value), value))
            prev = value
        elif line.startswith("TABLE "):
            _, name, value = line.split()
            tables.append((name, int(value)))
    return boot, tables


# The same measurement on the board engine (real CircuitPython 10.3 on an emulated RP2040,
# docs/board-engine.md): the firmware compiled as flash installs it, and this code.py, which
# does what app.run() does with a figure (gc.mem_alloc() after a collection) after each step.
BOARD_CODE = """import gc
def heap(label):
    gc.collect()
    print("HEAP", label, gc.mem_alloc())
heap("start")
for name in MODULES:
    __import__("firmware." + name)
    heap("import_" + name)
from firmware import app, board_io, router, start
from firmware.clock import Clock
from firmware.cv import CvEngine
from firmware.panel import Panel
heap("import_board_io")
hw = board_io.Hardware()
hw.outputs[router.CV_OUTPUT] = CvEngine(hw, hw.ticks_ms)
heap("hardware_and_cv_engine")
settings, errors = start.load_settings(hw.read_config())
print("ERRORS", len(errors), errors[:2])
heap("settings")
jacks = Clock(hw.clock_out, hw.reset_out, hw.run_out, hw.clock_in, hw.ticks_ms, hw.metronome, hw.pulse_timer)
heap("clock")
box = app.Box(hw.inputs, hw.outputs, hw.ticks_ms, settings, errors, clock=jacks)
heap("box")
box.panel = Panel(hw.buttons, hw.write_leds, hw.nvm, None, len(settings["presets"]), settings["panel"],
                  box.merger.last_rx, hw.ticks_ms(), error=bool(errors), fault=bool(hw.faults))
heap("panel")
hw = settings = errors = jacks = start = board_io = router = None
app._forget_start_up()
heap("start-up_dropped")
""" + SIZER + """
seen = {}
for v in OBJECTS:
    seen[id(v)] = 1
for v in OBJECTS:
    name = NAMES[OBJECTS.index(v)]
    for k in sorted(v.__dict__):
        print("TABLE", name + "." + k, sizeof(getattr(v, k), seen))
box.run()
"""


def measure_board(config_bytes, files=None):
    """(boot rows, table rows, console) as ``measure``, from the board engine: a row's bytes are
    the heap used since the script's start (``gc.mem_alloc()``: the blocks in use in the
    collector's areas; ``gc.mem_free()`` also counts the largest free block outside them, which
    moves with the areas the heap has grown, docs/design.md "Heap"). The rows stop where the
    boot stopped (a MemoryError is in the console)."""
    from host_tools.board import engine

    files = files or engine.find_files()
    tree = dict(engine.install_files(files["mpy_cross"]))
    code = BOARD_CODE.replace("for name in MODULES:", "for name in %r:" % (MODULES,))
    code = code.replace("for v in OBJECTS:", "for v in (%s,):" % ", ".join(OBJECTS))
    code = code.replace("NAMES[OBJECTS.index(v)]", "%r[[id(o) for o in (%s,)].index(id(v))]"
                        % (OBJECTS, ", ".join(OBJECTS)))
    tree["code.py"] = code.encode()
    if config_bytes is not None:
        tree["config.json"] = config_bytes
    try:
        console = engine.board_run(config_bytes, {}, until_ms=20, files=files, tree=tree).console
    except RuntimeError as e:  # the boot failed: what it printed until then is in the message
        console = str(e)
    boot, tables = [], []
    start = None
    for line in console.splitlines():
        if "HEAP " in line:  # the console's first line starts with a terminal title sequence
            _, label, alloc = line[line.index("HEAP "):].split()
            alloc = int(alloc)
            start = alloc if start is None else start
            used = alloc - start
            boot.append((label, used - (boot[-1][2] if boot else 0), used))
        elif line.startswith("TABLE "):
            _, name, value = line.split()
            tables.append((name, int(value)))
    return boot, tables, console


def report(config_path, min_table=64, out=print, board=False):
    config_path = config_path or REPO / "config.json"
    data = Path(config_path).read_bytes()
    if board:
        boot, tables, console = measure_board(data)
        out("heap on the board engine (CircuitPython 10.3: bytes used since code.py started, gc.mem_alloc() "
            "after gc.collect(); config: %s)" % config_path)
        if not tables:
            out("the boot stopped:\n" + console[-1500:])
    else:
        boot, tables = measure(data.decode("utf-8", "replace"))
        out("heap on the MicroPython VM (live bytes after gc.collect(); config: %s)" % config_path)
    out("%-22s %9s %9s" % ("step", "added", "in use"))
    for label, added, live in boot:
        out("%-22s %9d %9d" % (label, added, live))
    if not board and boot:
        live = dict((b[0], b[2]) for b in boot)
        fakes = live["fakes"] - live["import start"]
        total = boot[-1][2] - live["start"] - fakes
        out("the firmware after boot: %d bytes live (the modules it keeps %d; the fakes' %d not counted)"
            % (total, live["import app"] - live["start"], fakes))
    out("tables (estimated bytes each attribute holds; %d+ shown, largest first; all: %d):"
        % (min_table, sum(t[1] for t in tables)))
    for name, size in sorted(tables, key=lambda t: -t[1]):
        if size >= min_table:
            out("  %-40s %7d" % (name, size))
    return boot, tables


def main(argv):
    p = argparse.ArgumentParser(prog="python -m host_tools heap", description=__doc__.split("\n")[0])
    p.add_argument("--config", metavar="FILE", help="the config to boot with (default: the repo's config.json)")
    p.add_argument("--min", type=int, default=64, help="smallest table to list (bytes; default 64)")
    p.add_argument("--board", action="store_true",
                   help="measure on the board engine (real CircuitPython; docs/board-engine.md) instead of the VM")
    args = p.parse_args(argv)
    if args.board:
        from host_tools.board import engine

        try:
            engine.find_files()
        except engine.Missing as e:
            print("error: %s" % e, file=sys.stderr)
            return 2
    report(args.config, args.min, board=args.board)
    return 0
