"""The board engine: the unchanged firmware on real CircuitPython on an emulated RP2040.

``board_run()`` installs the firmware as ``flash --mpy`` would (CircuitPython's own mpy-cross),
packs the install into the CIRCUITPY FAT image, and runs the CircuitPython UF2 in
``engine.mjs`` (rp2040js under node) with the contract's inputs. What comes back (wire bytes,
USB packets, GPIO edges, I2C and SPI traffic, the console, loop passes, heap figures) becomes a
``runner.SimResult``, so ``host_tools/sim/report.py`` writes the same files as the simulator.
docs/board-engine.md says what is modelled and how every figure is defined.
"""

import contextlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from host_tools.board import fat, usbmidi
from host_tools.figures import NS_PER_MS
from host_tools.sim import runner
from host_tools.sim import world as _world
from host_tools.sim.wires import din_arrival_times

HERE = Path(__file__).resolve().parent
ENGINE_JS = HERE / "engine.mjs"
NODE_MODULES = HERE / "node_modules"
# The engine logs time in cycles at 125 MHz (engine.mjs: `cycles`), whatever clock the CPU runs
# at; a pass's CPU cycles are its time at the chip's clk_sys (BoardResult.pass_cycles).
CYCLE_NS = 8
UNIT_HZ = 1_000_000_000 // CYCLE_NS
SHARED = runner.REPO.parent / "shared" / "circuitpython"
# (option, environment variable, file in ../shared/circuitpython, where a user gets it)
FILES = {
    "uf2": ("--uf2", "CIRCUITPY_UF2", "circuitpython-10.3.0-alpha.4-raspberry_pi_pico.uf2",
            "the CircuitPython 10.3.x UF2 for raspberry_pi_pico from https://circuitpython.org/board/raspberry_pi_pico/"),
    "mpy_cross": ("--mpy-cross", "CIRCUITPY_MPY_CROSS", "mpy-cross-10.3.0-alpha.4-linux-x86_64",
                  "CircuitPython 10.3.x's mpy-cross for your platform from https://adafruit-circuit-python.s3.amazonaws.com/index.html?prefix=bin/mpy-cross/"),
    "bootrom": ("--bootrom", "CIRCUITPY_BOOTROM", "rp2040-bootrom-B1.bin",
                "the RP2040 B1 bootrom (b1.bin, built from https://github.com/raspberrypi/pico-bootrom)"),
}
BOOT_LIMIT_NS = 20_000 * NS_PER_MS  # power-up to the first main-loop pass, at most
DRAIN_NS = 2_000 * NS_PER_MS  # after the session: outputs still sending may finish
# A boot.py-free boot_out.txt for the flasher's board check; CircuitPython rewrites it at boot.
BOOT_OUT = "Adafruit CircuitPython 10.3.0 on 2025-01-01; Raspberry Pi Pico with rp2040\nBoard ID:raspberry_pi_pico\n"


class BoardError(Exception):
    """The board engine could not run the session (the firmware did not start, node failed)."""


class Missing(Exception):
    """A file the board engine needs is not there; the message says what to get and where."""


def find_files(uf2=None, mpy_cross=None, bootrom=None):
    """Paths of the UF2, mpy-cross and bootrom: the argument, else the environment variable,
    else ../shared/circuitpython/. Raises Missing naming every file it lacks."""
    given = {"uf2": uf2, "mpy_cross": mpy_cross, "bootrom": bootrom}
    found = {}
    missing = []
    for key, (option, env, shared_name, where) in FILES.items():
        path = given[key] or os.environ.get(env) or str(SHARED / shared_name)
        if os.path.isfile(path):
            found[key] = path
        else:
            missing.append("%s (%s PATH or %s=PATH; looked at %s)" % (where, option, env, path))
    if missing:
        raise Missing("board engine: missing " + "; ".join(missing))
    if not (NODE_MODULES / "rp2040js").is_dir():
        raise Missing("board engine: rp2040js is not installed: run `make %s`" % NODE_STAMP)
    return found


NODE_STAMP = "host_tools/board/node_modules/.installed"


def install_tree(config_text, mpy_cross, dest):
    """The CIRCUITPY drive ``flash`` writes (.mpy from CircuitPython's mpy-cross), in directory
    ``dest``, with ``config_text`` (bytes or text; None: no config.json) as the drive's own."""
    from host_tools import flash

    with open(os.path.join(dest, "boot_out.txt"), "w") as f:
        f.write(BOOT_OUT)
    argv = ["--drive", dest, "--mpy-cross", mpy_cross]
    if config_text is not None:
        # The drive's config.json as given, bytes of any kind (the flasher keeps a drive's own
        # config.json, and only warns about a bad one: the box must meet it as it is).
        with open(os.path.join(dest, "config.json"), "wb") as f:
            f.write(config_text.encode() if isinstance(config_text, str) else config_text)
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        status = flash.main(argv)
    if status != 0:
        raise BoardError("board engine: flash into the drive image failed:\n" + log.getvalue())
    if config_text is None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(dest, "config.json"))
    os.remove(os.path.join(dest, "boot_out.txt"))


def drive_files(config_text, mpy_cross):
    """{drive path: bytes}: the drive ``install_tree`` writes, read back (a tree for
    ``board_run`` that a caller may change first)."""
    drive = tempfile.mkdtemp(prefix="thruway-drive-")
    try:
        install_tree(config_text, mpy_cross, drive)
        tree = {}
        for root, _, names in os.walk(drive):
            for name in names:
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    tree[os.path.relpath(path, drive).replace(os.sep, "/")] = f.read()
    finally:
        shutil.rmtree(drive, ignore_errors=True)
    return tree


def install_files(mpy_cross):
    """{logical path: bytes} of one firmware version as ``flash --mpy`` builds it (code.py,
    boot.py, firmware/*.mpy, lib/...), without the flasher's version directories."""
    from host_tools import flash

    payload = flash.collect(flash.board_definition("raspberry_pi_pico"))
    with contextlib.redirect_stdout(io.StringIO()):
        flash.compile_mpy(payload, [mpy_cross])
    return dict(payload.files)


class BoardResult(runner.SimResult):
    """A SimResult plus the board's own figures (``board``) and raw traces."""

    def __init__(self):
        super().__init__()
        self.board = {}
        self.usb_packets = []  # (time_ns, (b0, b1, b2, b3)) as the host received them
        self.pass_cycles = []  # CPU cycles of every main-loop pass in the session, at clk_sys
        self.pass_ns = []  # the same passes' lengths in ns
        self.clk_sys_hz = UNIT_HZ  # the CPU clock the firmware ran its main loop at


# CPython 3.11's ast.parse is not safe in two threads at once: bench_ab's threads each build a
# job, and one raised "SystemError: AST constructor recursion depth mismatch" (make test, once).
_PARSE_LOCK = threading.Lock()


def firmware_constant(name, module="board_io"):
    """A module-level number the firmware defines (read from its source: board_io imports
    hardware modules, so it is not imported here)."""
    import ast

    with _PARSE_LOCK:
        tree = ast.parse((runner.REPO / "firmware" / (module + ".py")).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise KeyError("firmware/%s.py defines no %s" % (module, name))


def _job(files, image_path, config_text, inputs, events, until_ms, nvm, clock_in):
    from host_tools.sim import analog

    dac = analog.dac()
    pins = runner.pinmap()
    gpio = {k: runner.gpio_number(v["gpio"]) for k, v in pins.items()}
    din = []
    result_inputs = {}
    last_ns = 0
    usb_in = []
    for port, lines in inputs.items():
        if port == "usb":
            timed = [(t, b) for t, data in lines for b in data]
            usb_in = [[t, list(p)] for t, p in usbmidi.encode_lines(lines)]
        else:
            timed = din_arrival_times(lines)
            k = int(port[2:])
            if k <= 2:
                din.append([port, "uart", k - 1, timed])
            else:
                din.append([port, "pio", gpio["midi_" + port], timed])
        result_inputs[port] = timed
        if timed:
            last_ns = max(last_ns, timed[-1][0])
    pin_events = []
    for t, action, button in events:
        pin_events.append([t, gpio[button], action != "press"])
        last_ns = max(last_ns, t)
    for t, high in clock_in:
        pin_events.append([t, gpio["clock_in"], not high])  # an NPN inverter: high jack, low pin
        last_ns = max(last_ns, t)
    if until_ms is None:
        until_ns = last_ns + runner.END_GRACE_NS
        drain_ns = DRAIN_NS
    else:
        until_ns = int(round(until_ms * NS_PER_MS))
        drain_ns = 0
    watch = [gpio[k] for k in runner._PIN_SIGNALS] + [gpio["drum_latch"]]
    job = {
        "uf2": files["uf2"],
        "bootrom": files["bootrom"],
        "fat_image": image_path,
        "nvm": bytes(nvm).hex() if nvm is not None else None,
        "pins": gpio,
        "watch_gpio": watch,
        "i2c_addresses": [dac["pitch_address"], dac["mod_address"]],
        "i2c_hz": firmware_constant("DAC_I2C_HZ"),
        "spi_hz": firmware_constant("DRUM_SPI_HZ"),
        "pio_tx": {"out3": gpio["midi_out3"], "out4": gpio["midi_out4"], "leds": gpio["leds"]},
        "pio_rx": {"in3": gpio["midi_in3"], "in4": gpio["midi_in4"]},
        "drop_counters_length": len(DROP_COUNTER_OUTPUTS) * len(DROP_REASONS),
        "din_inputs": din,
        "usb_in": usb_in,
        "pin_events": pin_events,
        "until_ns": until_ns,
        "drain_ns": drain_ns,
        "boot_limit_ns": BOOT_LIMIT_NS,
    }
    return job, result_inputs


def run_engine(job, tmp):
    job_path = os.path.join(tmp, "job.json")
    out_path = os.path.join(tmp, "result.json")
    with open(job_path, "w") as f:
        json.dump(job, f)
    proc = subprocess.run(["node", str(ENGINE_JS), job_path, out_path], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BoardError("board engine: node failed (%d):\n%s" % (proc.returncode, proc.stderr[-4000:]))
    with open(out_path) as f:
        return json.load(f)


def board_run(config_text, inputs=None, events=(), until_ms=None, nvm=None, clock_in=(), files=None, tree=None):
    """Run the box on the board engine; the simulator's ``runner.simulate`` arguments.
    ``tree``: {drive path: bytes} to run instead of the firmware install (the benchmark's bare
    loop, the tests' probes). Returns a ``BoardResult``."""
    files = files or find_files()
    inputs = inputs or {}
    tmp = tempfile.mkdtemp(prefix="thruway-board-")
    try:
        drive = os.path.join(tmp, "drive")
        os.mkdir(drive)
        if tree is None:
            install_tree(config_text, files["mpy_cross"], drive)
        else:
            for name, data in tree.items():
                path = os.path.join(drive, name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(data)
        image_path = os.path.join(tmp, "circuitpy.img")
        with open(image_path, "wb") as f:
            f.write(fat.image_of(drive))
        job, timed_inputs = _job(files, image_path, config_text, inputs, events, until_ms, nvm, clock_in)
        raw = run_engine(job, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _result(raw, job, timed_inputs)


# The merger's drop counters: per output of the Pico's box (router.OUTPUTS before usbh, which
# the Pico lacks) and per reason (firmware/merger.py DROP_REASON_NAMES).
DROP_REASONS = firmware_constant("DROP_REASON_NAMES", "merger")
MIDI_BAUD = firmware_constant("MIDI_BAUD")
_OUTPUTS = firmware_constant("OUTPUTS", "router")
DROP_COUNTER_OUTPUTS = _OUTPUTS[:_OUTPUTS.index("usbh")]


def _ns(raw, cycles):
    """Session time of an emulated cycle count: 0 is the first main-loop pass."""
    return round((cycles - raw["t0_cycles"]) * CYCLE_NS)  # (the engine's time steps by 5 ns at 200 MHz)


def _result(raw, job, timed_inputs):
    result = BoardResult()
    result.console = raw["console"]
    if raw.get("error"):
        raise BoardError("board engine: %s; the console ends:\n%s" % (raw["error"], raw["console"][-3000:]))
    result.inputs = timed_inputs
    result.probes = [(_ns(raw, c), v) for c, v in raw.get("probes", [])]
    for port in ("out1", "out2"):
        result.outputs[port] = [(_ns(raw, c), b) for c, b in raw["outputs"][port]]
    for port, edges in raw["outputs"]["pio_edges"].items():
        if port == "leds":
            result.led_frames = [(_ns(raw, c), frame) for c, frame in decode_ws2812_edges(edges)]
        else:
            result.outputs[port] = [(_ns(raw, c), b) for c, b in decode_uart_edges(edges)]
    result.usb_packets = [(_ns(raw, c), tuple(p)) for c, *p in raw["usb_packets"]]
    result.outputs["usb"] = usbmidi.packets_to_timed_bytes(result.usb_packets)
    result.end_ns = _ns(raw, raw["session_end_cycles"])
    # The chip's us timer counts from power-up; the inputs' time 0 is the first pass.
    result.timer_us_at_zero = int(raw["t0_cycles"] * CYCLE_NS) // 1000
    # A byte still on the wire when the run ends has not left (the UART model books its end
    # time when it is written).
    for port in ("out1", "out2", "out3", "out4"):
        result.outputs[port] = [(t, b) for t, b in result.outputs[port] if t <= result.end_ns]
    # A UART whose divisor does not give MIDI's baud at the clock it runs on (made before the CPU
    # clock changed): the real wire would carry garbage, where the engine's wire keeps 31250 baud.
    for k, baud in enumerate(raw["uart_baud"]):
        if baud is not None and abs(baud - MIDI_BAUD) > MIDI_BAUD // 100:
            raise BoardError("board engine: UART%d runs at %d baud, not %d (its divisor was set at"
                             " another CPU clock)" % (k, baud, MIDI_BAUD))
    passes = raw["passes"]
    result.clk_sys_hz = raw["clk_sys_hz"]
    result.pass_ns = [p * CYCLE_NS for p in passes]
    result.pass_cycles = [round(p * result.clk_sys_hz / UNIT_HZ) for p in passes]
    result.passes = len(passes)
    result.max_pass_ns = max(result.pass_ns, default=0)
    result.cpu_ns = None  # the CPU never idles on the board: no load figure
    result.counters = {port: {"rx_overflow": n} for port, n in raw["rx_overflow"].items()}
    for port, pushed in raw["pio_rx"].items():
        lost, misread = unread_bytes(timed_inputs.get(port, []), [(_ns(raw, c), b) for c, b in pushed])
        result.counters[port] = {"rx_overflow": lost + raw["pio_ring_overrun"][port], "rx_misread": misread}
    # The merger's drops by rule, as the simulator reports them (firmware/merger.py ``dropped``).
    if raw["drop_counters"] is not None:
        n = len(DROP_REASONS)
        for o, port in enumerate(DROP_COUNTER_OUTPUTS):
            if port in runner.OUTPUT_PORTS:
                key = port + "_out" if port == "usb" else port
                result.counters[key] = {DROP_REASONS[r]: raw["drop_counters"][o * n + r] for r in range(n)}
    # The firmware's own account of a refused config, as its console prints it.
    result.config_errors = [line[len("config error: "):].strip() for line in result.console.splitlines()
                            if line.startswith("config error: ")]
    result.signals = _signals(raw, job)
    result.resets = [(_ns(raw, c), why) for c, why in raw["resets"]]
    result.board = board_figures(raw, result)
    return result


def unread_bytes(wire, pushed):
    """(lost, misread) of a PIO input: ``wire`` [(end of stop bit ns, byte)] its wire carried,
    ``pushed`` [(ns, byte)] its state machine pushed into the RX FIFO, both in order. A wire
    byte no push carried is lost (the program stalled on a full FIFO while the wire went on); a
    push that carries no wire byte is misread (the program resumed inside a byte and framed a
    wrong one). Each push is matched, in order, to the first wire byte after the last one matched
    that has the same value and had arrived (a push comes within a bit of the stop bit's end, or
    later, when it waited for room). Exact when nothing is lost; after a loss a misread byte may
    match a lost one of the same value, so then both counts may read one low for it."""
    matched = 0
    misread = 0
    k = 0
    for t, b in pushed:
        j = k
        while j < len(wire) and wire[j][0] <= t + PUSH_EARLY_NS and wire[j][1] != b:
            j += 1
        if j < len(wire) and wire[j][0] <= t + PUSH_EARLY_NS:
            matched += 1
            k = j + 1
        else:
            misread += 1
    return len(wire) - matched, misread


# The PIO receiver pushes a byte once it has sampled the middle of the stop bit, up to a bit
# before the stop bit ends (the byte's arrival time).
PUSH_EARLY_NS = 2 * 32_000


def decode_uart_edges(edges):
    """Bytes from a TX pin's edges ([cycles, level]), 8N1 at 31250 baud: (end of stop bit, byte)."""
    bit = 32_000 // CYCLE_NS  # cycles per bit
    out = []
    k = 0
    level_at = _Levels(edges)
    while k < len(edges):
        c, level = edges[k]
        if level != 0:
            k += 1
            continue
        start = c
        value = 0
        for n in range(8):
            if level_at(start + bit * n + bit * 3 // 2):
                value |= 1 << n
        end = start + 10 * bit
        out.append((end, value))
        # The next start bit is the first falling edge after the stop bit began.
        k += 1
        while k < len(edges) and edges[k][0] < start + 9 * bit:
            k += 1
    return out


WS2812_ONE_NS = 600  # a high pulse longer than this is a 1 (0.4 us is a 0, 0.8 us a 1)
WS2812_RESET_NS = 50_000  # low this long ends a frame


def decode_ws2812_edges(edges):
    """LED chain writes from the data pin's edges: [(cycles at the frame's end, GRB bytes)]."""
    frames = []
    bits = []
    rise = None
    last_fall = None

    def flush(at):
        if len(bits) >= 8:
            data = bytes(int("".join(map(str, bits[k:k + 8])), 2) for k in range(0, len(bits) - 7, 8))
            frames.append((at, data))
        bits.clear()

    for c, level in edges:
        if level == 1:
            if last_fall is not None and (c - last_fall) * CYCLE_NS > WS2812_RESET_NS:
                flush(last_fall)
            rise = c
        elif rise is not None:
            bits.append(1 if (c - rise) * CYCLE_NS > WS2812_ONE_NS else 0)
            last_fall = c
    if last_fall is not None:
        flush(last_fall)
    return frames


class _Levels:
    """Level of a pin at a time, from its edges (before the first edge: idle high)."""

    def __init__(self, edges):
        self.times = [c for c, _ in edges]
        self.levels = [v for _, v in edges]

    def __call__(self, cycle):
        import bisect

        i = bisect.bisect_right(self.times, cycle) - 1
        return 1 if i < 0 else self.levels[i]


def _signals(raw, job):
    """signals.csv rows from the GPIO edges, the I2C transactions (the MCP4728 register model)
    and the SPI bytes and latch edges (the 595), with the simulator's analog scaling."""
    from host_tools.sim import analog
    from host_tools.sim.mcp4728 import MCP4728
    from host_tools.sim.shiftreg import ShiftRegister595

    w = _world.World()
    _world.install(w)
    try:
        for name in runner.SIGNALS:
            w.signals.define(name, 0.0)
        pins = job["pins"]
        jack_of = {pins[k]: v for k, v in runner._PIN_SIGNALS.items()}
        dac = analog.dac()
        chips = {}
        for address, stage, prefix in ((dac["pitch_address"], "pitch", "cv"), (dac["mod_address"], "mod", "mod")):

            def publish(channel, volts, stage=analog.stage(stage), prefix=prefix):
                w.signals.set("%s%d" % (prefix, channel + 1), round(stage.jack_volts(volts), 6))

            chips[address] = MCP4728(vdd=dac["vdd"], address=address, on_output=publish)
        sr = ShiftRegister595(w, ["drum%d" % k for k in range(1, 9)])
        events = []
        for c, gpio, level in raw["gpio"]:
            events.append((c, 0, ("gpio", gpio, level)))
        for c, address, data in raw["i2c"]:
            events.append((c, 1, ("i2c", address, data)))
        for c, value in raw["spi"]:
            events.append((c, 2, ("spi", value)))
        events.sort(key=lambda e: (e[0], e[1]))
        latch = pins["drum_latch"]
        for c, _, ev in events:
            w.now_ns = max(0, _ns(raw, c))
            if ev[0] == "gpio":
                _, gpio, level = ev
                high = level == 1
                if gpio == latch:
                    sr.latch(high)
                elif gpio in jack_of:
                    w.signals.set(jack_of[gpio], analog.gate_volts(high))
            elif ev[0] == "i2c":
                chip = chips.get(ev[1])
                if chip is not None and ev[2]:
                    with contextlib.suppress(Exception):
                        chip.i2c_write(bytes(ev[2]))
            else:
                sr.spi_write(bytes([ev[1]]))
        rows = w.signals.rows
    finally:
        _world.uninstall()
    # Changes before the first pass (start-up) are the values at time 0.
    at_zero = {}
    for t, name, volts in rows:
        if t == 0:
            at_zero[name] = volts
    return [(0, name, at_zero[name]) for name in runner.SIGNALS] + [r for r in rows if r[0] > 0]


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(q / 100 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def board_figures(raw, result):
    """summary.json's ``board`` section (docs/board-engine.md defines each figure)."""
    passes = sorted(result.pass_cycles)
    heap = raw.get("heap") or {}
    playing = _playing_window(result)
    longest_playing = 0
    longest_playing_ns = 0
    if playing:
        start_ns = 0
        for p, ns in zip(result.pass_cycles, result.pass_ns):
            if playing[0] <= start_ns <= playing[1] and p > longest_playing:
                longest_playing = p
                longest_playing_ns = ns
            start_ns += ns
    t0 = raw["t0_cycles"]
    allocs = [c for c in raw["alloc_events"] if c >= t0]
    marks = [c for c in raw["gc_marks"] if c >= t0]
    collections = 0
    last = None
    for c in marks:
        if last is None or c - last > UNIT_HZ // 1000:  # marks more than 1 ms apart: another collection
            collections += 1
        last = c
    figures = {
        "cpu_hz": result.clk_sys_hz,
        "boot_ms": round(t0 * CYCLE_NS / NS_PER_MS, 3),
        "boot_wait_skipped_ms": round(raw["boot_wait_skipped_cycles"] * CYCLE_NS / NS_PER_MS, 3),
        "pass_cycles": {
            "count": len(passes),
            "idle": percentile(passes, 5),
            "mean": round(sum(passes) / len(passes)) if passes else None,
            "p50": percentile(passes, 50),
            "p90": percentile(passes, 90),
            "p99": percentile(passes, 99),
            "max": passes[-1] if passes else None,
        },
        "longest_pass_playing_cycles": longest_playing,
        "longest_pass_playing_ms": round(longest_playing_ns / NS_PER_MS, 3),
        "playing_ms": [round(playing[0] / NS_PER_MS, 3), round(playing[1] / NS_PER_MS, 3)] if playing else None,
        "heap_free_after_boot": heap.get("ready_free"),
        "heap_free_measured_at_start": heap.get("free_at_start"),
        "heap_free_at_end": heap.get("free_at_end"),
        "heap_areas_found": heap.get("areas", 0),
        "allocated_blocks_playing": len(allocs),
        "allocated_bytes_playing": 16 * len(allocs),
        "gc_collections_playing": collections,
        "resets": len(raw["resets"]),
        # The merger's drop counters were found and read (summary.json's ports.<out>.dropped).
        "drop_counters_read": raw["drop_counters"] is not None,
        # The usb input: packets the box took, the longest one waited (the box reads USB only
        # when it has room; the host keeps the rest), packets not taken when the run ended.
        "usb_in": {"packets_taken": raw["usb_in"]["delivered"],
                   "longest_wait_ms": round(raw["usb_in"]["max_wait_ns"] / NS_PER_MS, 3),
                   "packets_pending_at_end": raw["usb_in"]["pending_at_end"]},
    }
    return figures


def _playing_window(result):
    """(first, last) input byte arrival in session ns: the span called "while playing"."""
    times = [t for timed in result.inputs.values() for t, _ in timed]
    if not times:
        return None
    return (min(times), max(times))
