"""Run the unchanged firmware (``code.py`` + ``firmware/``) against the simulated hardware.

``simulate()`` builds a world, wires the jacks named in ``hardware/pinmap.json``, puts the fake
CircuitPython modules first on ``sys.path``, runs ``code.py`` in a temporary CIRCUITPY drive
holding the config, and returns what came out: the bytes on every output, the signals at the
jacks, the serial console and the firmware's own counters.
"""

import contextlib
import io
import json
import os
import runpy
import shutil
import sys
import tempfile
from pathlib import Path

from host_tools.sim import costs, pycost
from host_tools.sim import world as _world
from host_tools.sim.usb import UsbLink
from host_tools.sim.wires import din_arrival_times

REPO = Path(__file__).resolve().parents[2]
FAKES = Path(__file__).resolve().parent / "fakes"
NS_PER_MS = 1_000_000

INPUT_PORTS = ("in1", "in2", "in3", "in4", "usb")
OUTPUT_PORTS = ("out1", "out2", "out3", "out4", "usb")
# The USB host port (both ways): only on the USB host variant (a Pico 2), which a run becomes
# when it feeds usbh or plugs / unplugs it (docs/usb-host.md).
USBH = "usbh"
USBH_BOARD = "raspberry_pi_pico2"
USBH_EVENTS = ("plug", "unplug")
BUTTONS = ("button1", "button2", "button3", "button4")
SIGNALS = (
    ["cv%d" % k for k in range(1, 5)]
    + ["mod%d" % k for k in range(1, 5)]
    + ["gate%d" % k for k in range(1, 5)]
    + ["drum%d" % k for k in range(1, 9)]
    + ["clock", "reset", "run"]
)
# GPIO outputs that are jacks: pinmap key -> signal name.
_PIN_SIGNALS = {"gate1": "gate1", "gate2": "gate2", "gate3": "gate3", "gate4": "gate4",
                "clock_out": "clock", "reset_out": "reset", "run_out": "run"}
# Modules the firmware imports that the simulation provides or must load afresh each run.
_FAKE_MODULES = tuple(p.stem for p in FAKES.glob("*.py"))
END_GRACE_NS = 100 * NS_PER_MS  # run on 100 ms after the last input byte ...
END_LIMIT_NS = 10_000 * NS_PER_MS  # ... until idle, but never more than 10 s past it
# A reset (watchdog, microcontroller.reset()): the chip restarts, CircuitPython runs boot.py and
# then code.py. An estimate of that time, not a measurement; the box is deaf meanwhile.
REBOOT_NS = 1000 * NS_PER_MS
MAX_REBOOTS = 50  # a box that resets over and over ends the run
# Python the board runs and the simulator charges, operation by operation (pycost.py). boot.py
# runs before time 0 and takes no virtual time.
CHARGED_PYTHON = (REPO / "firmware", REPO / "code.py")


def pinmap(variant=False):
    with open(REPO / "hardware" / ("pinmap-usbhost.json" if variant else "pinmap.json")) as f:
        return json.load(f)["pins"]


def input_ports(result):
    """The input ports of a run: INPUT_PORTS, and usbh on the USB host variant."""
    return INPUT_PORTS + ((USBH,) if result.usbh else ())


def output_ports(result):
    return OUTPUT_PORTS + ((USBH,) if result.usbh else ())


def gpio_number(name):
    return int(name[2:])


class SimResult:
    """What a run produced. ``outputs[port]`` is [(time_ns, byte)]."""

    def __init__(self):
        self.outputs = {}
        self.inputs = {}  # port -> [(arrival_ns, byte)] as they reached the box
        self.signals = []  # (time_ns, name, volts)
        self.console = ""
        self.end_ns = 0
        self.passes = 0
        self.cpu_ns = 0
        self.max_pass_ns = 0  # the longest main-loop pass
        self.pass_log = []  # (start_ns, length_ns) of every main-loop pass
        self.counters = {}  # firmware and hardware counters for the summary
        self.config_errors = []
        self.nvm = b""  # the NVM at the end (simulate(nvm=...) starts a later run from it)
        self.resets = []  # (time_ns, reason) of every reset of the box
        self.led_frames = []  # (time_ns, GRB bytes) of every LED chain write
        self.nvm_writes = 0
        self.boot_out = ""  # what boot.py printed (boot_out.txt on the board)
        self.drive = {}  # the CIRCUITPY drive's mode as boot.py left it (fakes/storage.py)
        self.usbh = False  # the USB host variant (a Pico 2 with the usbh port)
        self.usbh_plugs = []  # (time_ns, "plug" | "unplug") of the device on usbh


def _purge_modules():
    for name in list(sys.modules):
        if name in _FAKE_MODULES or name == "code" or name == "firmware" or name.startswith(("firmware.", "usb")):
            del sys.modules[name]


@contextlib.contextmanager
def _firmware_imports():
    from host_tools.sim import vtime

    saved_path = list(sys.path)
    real_time = sys.modules["time"]
    _purge_modules()
    sys.path[:0] = [str(FAKES), str(REPO)]
    # Modules imported from here on (the firmware, the drivers it loads) get the virtual clock;
    # host code imported earlier keeps its reference to the real one.
    sys.modules["time"] = vtime.make_module(real_time)
    try:
        yield
    finally:
        sys.modules["time"] = real_time
        sys.path[:] = saved_path
        _purge_modules()


def _count_passes(w):
    # A pass runs from one read of in1 to the next, as on the board engine (uart.PASS_MARKER_UART).
    def counted():
        if w.python_costs and not pycost.live:
            pycost.pending_cycles = 0  # start-up Python is not charged (pycost.live)
            pycost.live = True
        w.passes += 1
        # The longest pass (CV's I2C writes, a preset switch) bounds the latency of a byte that
        # arrives just after its input was read.
        if w.passes > 1:
            w.pass_log.append((w.last_pass_ns, w.now_ns - w.last_pass_ns))
            if w.now_ns - w.last_pass_ns > w.max_pass_ns:
                w.max_pass_ns = w.now_ns - w.last_pass_ns
        w.last_pass_ns = w.now_ns

    w.pass_marker = counted


def _attach_cv_hardware(w, pins):
    # Two MCP4728s on I2C0 (pitch at 0x60, velocity/mod at 0x64) whose outputs reach the jacks
    # through the op-amp stages of hardware/analog.json, and the drums' 74HCT595.
    from host_tools.sim import analog, i2c
    from host_tools.sim.mcp4728 import MCP4728
    from host_tools.sim.shiftreg import ShiftRegister595

    dac = analog.dac()
    for address, stage, prefix in ((dac["pitch_address"], "pitch", "cv"), (dac["mod_address"], "mod", "mod")):

        def publish(channel, volts, stage=analog.stage(stage), prefix=prefix):
            w.signals.set("%s%d" % (prefix, channel + 1), round(stage.jack_volts(volts), 6))

        i2c.attach(address, MCP4728(vdd=dac["vdd"], address=address, on_output=publish), world=w)
    sr = ShiftRegister595(w, ["drum%d" % k for k in range(1, 9)])
    w.shift_register = sr
    sck = gpio_number(pins["drum_sck"]["gpio"])
    w.__dict__.setdefault("spi_listeners", {}).setdefault(sck, []).append(sr.spi_write)
    w.pin_hooks = {gpio_number(pins["drum_latch"]["gpio"]): sr.latch}


def _restart_hardware(w):
    # What a reset does to the chip: its peripherals stop (bytes in transmit FIFOs are lost, a
    # byte on the wire finishes), GPIO outputs float (the jacks' buffers read low), the watchdog
    # is off. What is outside the chip stays: wires, the DACs and the shift register, the
    # computer, NVM and the drive's files. Then the boot time passes with nobody listening.
    for key in ("uart_blocks", "i2c_blocks_in_use"):
        if key in w.__dict__:
            w.__dict__[key].clear()
    if "pio_state_machines" in w.__dict__:
        w.__dict__["pio_state_machines"][0] = 0
    w.__dict__.pop("pio_blocks", None)
    w.__dict__.pop("usb_host_port", None)
    for t in w.__dict__.get("transmitters", ()):
        t.fifo.clear()
    for din in w.din_inputs.values():
        din.receiver = None
    for name in w.__dict__.get("pin_signals", {}).values():
        w.signals.set(name, 0.0)
    w.__dict__.pop("drive", None)
    w.watchdog_deadline_ns = None
    _purge_modules()
    w.cpu_hz = costs.UNIT_HZ  # the chip restarts at CircuitPython's clock
    w.wait(REBOOT_NS)


def _run_boot(w, boot_out):
    """boot.py, as CircuitPython runs it at power-up: its own VM (the fakes are imported afresh
    for code.py afterwards, so every pin it used is free again), output to boot_out."""
    path = REPO / "boot.py"
    if not path.is_file():
        return
    import storage

    storage._drive()["in_boot"] = True
    # boot.py takes no virtual time: time 0 is the moment code.py starts (the contract's inputs
    # and events are timed from there); after a reset, REBOOT_NS covers it.
    w.charge = lambda ns: None
    try:
        with contextlib.redirect_stdout(boot_out):
            runpy.run_path(str(path), run_name="__main__")
    finally:
        del w.charge
    w.drive["in_boot"] = False
    _purge_modules()


def _run_firmware(w, console, boot_out):
    """boot.py then code.py, and both again after every reset, until the run ends."""
    while True:
        try:
            _run_boot(w, boot_out)
            _count_passes(w)
            charging = pycost.charging(CHARGED_PYTHON) if w.python_costs else contextlib.nullcontext()
            with contextlib.redirect_stdout(console), charging:
                runpy.run_path(str(REPO / "code.py"), run_name="__main__")
            return
        except _world.SimulationEnd:
            return
        except _world.Reboot as e:
            console.write("[simulator: reset (%s) at %.3f ms]\n" % (e.reason, w.now_ns / NS_PER_MS))
            if w.resets > MAX_REBOOTS:
                return
            try:
                _restart_hardware(w)
            except _world.SimulationEnd:
                return


def simulate(config_text, inputs=None, events=(), until_ms=None, nvm=None, clock_in=(), python_costs=False,
             usbh=None, timer_us_at_zero=None):
    """Run the box. ``inputs``: {port: [(time_ns, bytes)]}; ``events``: [(time_ns, action, button)],
    or (time_ns, "plug" | "unplug", "usbh") for the device on the USB host port.

    ``usbh``: run the USB host variant (a Pico 2 with the usbh port); by default when ``inputs``
    feed usbh or ``events`` plug it. Its device is plugged in at power-up unless the first usbh
    event is a plug.

    ``config_text``: the drive's config.json (bytes as they are, or text written as UTF-8); None
    means the drive has none. ``nvm``: bytes the box's NVM holds at power-up (a previous run's
    ``result.nvm``: a power cycle). ``clock_in``: [(time_ns, high)], the clock-in jack's level
    from that time (its input inverter makes the pin read the opposite). ``python_costs``: charge
    the firmware's own Python operation by operation (pycost.py, calibrated against the board
    engine) instead of a fixed cost per read and per byte. ``timer_us_at_zero``: the chip's us timer
    at time 0, to step ``supervisor.ticks_ms`` as CircuitPython's tick does (host_tools/sim/ticks.py;
    a board run's ``timer_us_at_zero`` to step with it), or None for exact ms. Returns a
    ``SimResult``."""
    inputs = inputs or {}
    w = _world.World(until_ns=None if until_ms is None else int(round(until_ms * NS_PER_MS)))
    if nvm is not None:
        w.nvm[: len(nvm)] = bytes(nvm)
    w.python_costs = python_costs
    w.timer_us_at_zero = timer_us_at_zero
    w.passes = 0
    w.pass_log = []  # (start_ns, length_ns) of every main-loop pass
    w.last_pass_ns = 0
    w.max_pass_ns = 0
    _world.install(w)
    if usbh is None:
        usbh = USBH in inputs or any(e[2] == USBH for e in events)
    pins = pinmap(usbh)
    result = SimResult()
    result.usbh = usbh
    if usbh:
        from host_tools.sim.usbhost import UsbHostDevice

        w.board_id = USBH_BOARD
        w.pio_block_count = 3  # the RP2350
        first = [action for _, action, port in sorted(events) if port == USBH]
        w.usbh_device = UsbHostDevice(plugged=not first or first[0] != "plug")
    drive = tempfile.mkdtemp(prefix="thruway-drive-")
    cwd = os.getcwd()
    try:
        for name in SIGNALS:
            w.signals.define(name, 0.0)
        w.pin_signals = {gpio_number(pins[k]["gpio"]): v for k, v in _PIN_SIGNALS.items()}
        w.pin_levels = {}
        _attach_cv_hardware(w, pins)
        w.usb = UsbLink()
        last_ns = 0
        for port, lines in inputs.items():
            if port == "usb":
                timed = [(t, b) for t, data in lines for b in data]
                w.usb.schedule(timed)
            elif port == USBH:
                timed = [(t, b) for t, data in lines for b in data]
                w.usbh_device.schedule(lines)
            else:
                timed = din_arrival_times(lines)
                gpio = gpio_number(pins["midi_" + port]["gpio"])
                w.attach_receiver(gpio, None)
                w.din_inputs[gpio].schedule(timed)
            result.inputs[port] = timed
            if timed:
                last_ns = max(last_ns, timed[-1][0])
        for t, action, button in events:
            if button == USBH:
                w.at(t, getattr(w.usbh_device, action))
                last_ns = max(last_ns, t)
                continue
            if "buttons" in pins:
                # The variant's ladder: one ADC pin for the four buttons (fakes/analogio.py).
                bit = 1 << BUTTONS.index(button)

                def edge(bit=bit, pressed=action == "press"):
                    held = w.__dict__.get("ladder_pressed", 0)
                    w.ladder_pressed = held | bit if pressed else held & ~bit
            else:
                gpio = gpio_number(pins[button]["gpio"])
                level = action != "press"  # buttons pull the pin to GND

                def edge(gpio=gpio, level=level):
                    w.pin_levels[gpio] = level

            if t <= 0:
                edge()  # held at power-up: boot.py sees it (boot.py runs before time 0)
            else:
                w.at(t, edge)
            last_ns = max(last_ns, t)
        jack = gpio_number(pins["clock_in"]["gpio"])
        for t, high in clock_in:
            w.at(t, lambda high=high: w.pin_levels.__setitem__(jack, not high))
            last_ns = max(last_ns, t)
        for port in ("out1", "out2", "out3", "out4"):
            w.tx_wire(gpio_number(pins["midi_" + port]["gpio"])).name = port
        if until_ms is None:
            w.soft_until_ns = last_ns + END_GRACE_NS
            w.until_ns = last_ns + END_GRACE_NS + END_LIMIT_NS
            w.stop_check = lambda: _idle(w)
        if config_text is not None:
            # Bytes as given (a file of any encoding), or text as UTF-8.
            with open(os.path.join(drive, "config.json"), "wb") as f:
                f.write(config_text.encode() if isinstance(config_text, str) else config_text)
        console = io.StringIO()
        boot_out = io.StringIO()
        os.chdir(drive)
        with _firmware_imports():
            _run_firmware(w, console, boot_out)
            _collect(w, result, pins)
        result.console = console.getvalue()
        result.boot_out = boot_out.getvalue()
    finally:
        os.chdir(cwd)
        shutil.rmtree(drive, ignore_errors=True)
        _world.uninstall()
    return result


def _box():
    app = sys.modules.get("firmware.app")
    return getattr(app, "box", None) if app else None


def _idle(w):
    for din in w.din_inputs.values():
        receiver = din.receiver
        if receiver is not None and receiver.rx_pending():
            return False
    if w.usb is not None and w.usb.to_device:
        return False
    device = w.__dict__.get("usbh_device")
    if device is not None and device.pending():
        return False
    for t in w.__dict__.get("transmitters", ()):
        if not t.idle():
            return False
    box = _box()
    if box is not None:
        for o in range(box.merger.n_out):
            if box.merger.pending(o):
                return False
    return True


def _collect(w, result, pins):
    result.end_ns = w.now_ns
    result.nvm = bytes(w.nvm)
    result.resets = list(w.reset_log)
    result.led_frames = list(w.__dict__.get("led_frames", ()))
    result.nvm_writes = w.__dict__.get("nvm_writes", 0)
    result.drive = dict(w.__dict__.get("drive") or {})
    result.passes = w.passes
    result.max_pass_ns = w.max_pass_ns
    result.pass_log = w.pass_log
    result.cpu_ns = w.cpu_ns
    result.signals = list(w.signals.rows)
    for port in ("out1", "out2", "out3", "out4"):
        result.outputs[port] = list(w.tx_wire(gpio_number(pins["midi_" + port]["gpio"])).bytes)
    result.outputs["usb"] = list(w.usb.from_device.bytes)
    device = w.__dict__.get("usbh_device")
    if device is not None:
        result.outputs[USBH] = list(device.received.bytes)
        result.usbh_plugs = list(device.plug_log)
    counters = {}
    for port in ("in1", "in2", "in3", "in4"):
        din = w.din_inputs.get(gpio_number(pins["midi_" + port]["gpio"]))
        lost = 0
        if din is not None:
            lost = din.unheard + (getattr(din.receiver, "lost", 0) if din.receiver else 0)
        counters[port] = {"rx_overflow": lost}
    counters["usb_in"] = {"rx_overflow": 0}
    if device is not None:
        counters["usbh_in"] = {"unplugged": device.unheard}  # bytes played while unplugged
    box = _box()
    if box is not None:
        from firmware import merger as fw_merger
        from firmware import router as fw_router

        m = box.merger
        names = fw_merger.DROP_REASON_NAMES
        for port in input_ports(result):
            k = fw_router.INPUTS.index(port)
            if k >= len(m.state):
                continue  # the port did not start (a fault on the console)
            key = port + "_in" if port in ("usb", USBH) else port
            counters[key]["stray"] = m.stray[k]
            counters[key]["parsed"] = m.messages_in[k]
        coalesced = {}
        for port in output_ports(result):
            o = fw_router.OUTPUTS.index(port)
            if o >= m.n_out:
                continue
            key = port + "_out" if port in ("usb", USBH) else port
            counters[key] = {names[r]: m.dropped[o * fw_merger.N_DROP_REASONS + r] for r in range(len(names))}
            coalesced[key] = m.coalesced[o]
        counters["coalesced"] = coalesced
        counters["sysex_timeouts"] = m.sysex_timeouts
        result.config_errors = list(box.errors)
        counters["preset"] = box.preset + 1
        clock = getattr(box, "clock", None)
        if clock is not None:
            counters["clock_bpm"] = clock.bpm_x100() / 100  # the box's tempo estimate at the end
            # What times the internal clock: the PIO metronome, or the ms tick without one.
            counters["clock_timer"] = "pio" if getattr(clock, "metronome", None) is not None else "ms"
    result.counters = counters
