"""``python -m host_tools sim``: the simulator's command line (docs/design.md, "The simulator
contract"; the README, "The simulator")."""

import argparse
import sys

from host_tools import midiwire
from host_tools.sim import report, runner

DEFAULT_CONFIG = runner.REPO / "config.json"


class UsageError(Exception):
    pass


def _parser():
    p = argparse.ArgumentParser(prog="python -m host_tools sim", description="Run Thruway on simulated hardware.")
    p.add_argument("--config", help="config.json to use (default: the repo's config.json)")
    p.add_argument("--preset", help="preset to start in: its number (1-based) or its name")
    p.add_argument("--in", dest="inputs", action="append", default=[], metavar="PORT=FILE",
                   help="feed PORT (in1..in4, usb, usbh: the USB host variant's device) from FILE "
                        "(.txt timed bytes or .mid)")
    p.add_argument("--events", help="front-panel actions: '<time_ms> press|release <button>' lines; "
                                    "'<time_ms> plug|unplug usbh' for the USB host port's device")
    p.add_argument("--clock-in", metavar="FILE",
                   help="clock-in jack pulses: the time in ms of each rising edge, one a line (5 ms pulses)")
    p.add_argument("--until", type=float, metavar="MS", help="simulate up to this time")
    p.add_argument("--as-device", action="store_true",
                   help="treat an invalid or missing config as the box does (fallback routing)")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the outputs")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG plot")
    p.add_argument("--engine", choices=("sim", "board"), default="sim",
                   help="sim: the fast simulator (default); board: real CircuitPython on an emulated RP2040 "
                        "(docs/board-engine.md)")
    p.add_argument("--cost-model", choices=("calls", "python"), default="python",
                   help="the fast simulator's CPU time: python (the firmware's own Python, operation by "
                        "operation, calibrated against the board engine: python -m host_tools calibrate; "
                        "the default) or calls (hardware calls plus a fixed cost per byte: faster, and it "
                        "flatters the firmware)")
    p.add_argument("--uf2", help="board engine: CircuitPython's UF2 for raspberry_pi_pico (or CIRCUITPY_UF2)")
    p.add_argument("--mpy-cross", help="board engine: CircuitPython's mpy-cross (or CIRCUITPY_MPY_CROSS)")
    p.add_argument("--bootrom", help="board engine: the RP2040 B1 bootrom (or CIRCUITPY_BOOTROM)")
    return p


def _read_input(spec):
    if "=" not in spec:
        raise UsageError("--in %s: expected PORT=FILE" % spec)
    port, path = spec.split("=", 1)
    ports = runner.INPUT_PORTS + (runner.USBH,)
    if port not in ports:
        raise UsageError("--in %s: unknown input port %r (ports are %s)" % (spec, port, ", ".join(ports)))
    if path.endswith(".mid"):
        try:
            return port, midiwire.read_smf(path)
        except midiwire.FormatError as e:
            raise UsageError(str(e)) from None
    if not path.endswith(".txt"):
        raise UsageError("--in %s: input files end in .txt (timed bytes) or .mid" % spec)
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise UsageError("%s: cannot read (%s)" % (path, e.strerror)) from None
    try:
        return port, midiwire.parse_timed_text(text, path)
    except midiwire.FormatError as e:
        raise UsageError(str(e)) from None


def _lines(path):
    """(line number, text) of the file's non-empty lines, '#' comments removed."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise UsageError("%s: cannot read (%s)" % (path, e.strerror)) from None
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if line:
            yield number, line


def _read_events(path):
    events = []
    for number, line in _lines(path):
        fields = line.split()
        if len(fields) == 3 and fields[1] in runner.USBH_EVENTS:
            if fields[2] != runner.USBH:
                raise UsageError("%s:%d: only %s is plugged and unplugged" % (path, number, runner.USBH))
        elif len(fields) != 3 or fields[1] not in ("press", "release"):
            raise UsageError("%s:%d: expected '<time_ms> press|release <button>' or '<time_ms> plug|unplug usbh'"
                             % (path, number))
        try:
            t = float(fields[0])
        except ValueError:
            raise UsageError("%s:%d: %r is not a time in ms" % (path, number, fields[0])) from None
        if fields[1] in ("press", "release") and fields[2] not in runner.BUTTONS:
            raise UsageError("%s:%d: unknown button %r (buttons are %s)"
                             % (path, number, fields[2], ", ".join(runner.BUTTONS)))
        events.append((int(round(t * 1_000_000)), fields[1], fields[2]))
    return events


CLOCK_IN_PULSE_MS = 5.0  # a clock-in pulse's width; less when the next comes sooner


def _read_clock_in(path):
    """``--clock-in FILE``: [(time_ns, high)] levels of the clock-in jack, a pulse at each time
    (ms, one a line, '#' comments), CLOCK_IN_PULSE_MS wide or half the gap to the next."""
    times = []
    for number, line in _lines(path):
        try:
            t = float(line)
        except ValueError:
            raise UsageError("%s:%d: %r is not a time in ms" % (path, number, line)) from None
        if t < 0 or (times and t <= times[-1]):
            raise UsageError("%s:%d: times must be >= 0 and increasing" % (path, number))
        times.append(t)
    levels = []
    for k, t in enumerate(times):
        width = CLOCK_IN_PULSE_MS
        if k + 1 < len(times):
            width = min(width, (times[k + 1] - t) / 2)
        levels.append((int(round(t * 1_000_000)), True))
        levels.append((int(round((t + width) * 1_000_000)), False))
    return levels


def _read_config(path, as_device):
    """The config file's bytes for the drive, as they are (the box reads bytes of any kind).
    Exit-2 problems raise UsageError unless ``as_device``."""
    from host_tools import fwimport

    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        if as_device:
            print("config: %s: cannot read (%s); the box runs with the fallback routing" % (path, e.strerror),
                  file=sys.stderr)
            return None
        raise UsageError("%s: cannot read (%s)" % (path, e.strerror)) from None
    errors = fwimport.config_errors(text)
    if errors:
        if as_device:
            for err in errors:
                print("config: %s: %s" % (path, err), file=sys.stderr)
        else:
            more = " (and %d more)" % (len(errors) - 1) if len(errors) > 1 else ""
            raise UsageError("%s: %s%s" % (path, errors[0], more))
    return text


def _preset_nvm(choice, config_text):
    """--preset NAME|NUMBER: the NVM the box powers up with, as if it had been switched off in
    that preset (firmware/panel.py's record). A number (1-based) is a number; else a name."""
    from host_tools import fwimport
    from host_tools.presets import PresetChoiceError, preset_index

    settings, _ = fwimport.firmware_module("config").load(config_text)
    names = [p["name"] for p in settings["presets"]]
    try:
        index = preset_index(choice, names)
    except PresetChoiceError as e:
        raise UsageError(str(e)) from None
    return fwimport.firmware_module("panel").nvm_record(index)


def main(argv):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config_text = _read_config(args.config or str(DEFAULT_CONFIG), args.as_device)
        inputs = {}
        for spec in args.inputs:
            port, lines = _read_input(spec)
            if port in inputs:
                raise UsageError("--in %s: port %s given twice" % (spec, port))
            inputs[port] = lines
        events = _read_events(args.events) if args.events else []
        clock_in = _read_clock_in(args.clock_in) if args.clock_in else []
        if args.until is not None and args.until < 0:
            raise UsageError("--until %s: must be >= 0" % args.until)
        nvm = _preset_nvm(args.preset, config_text) if args.preset is not None else None
    except UsageError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    if args.engine == "board":
        from host_tools.board import engine

        if runner.USBH in inputs or any(e[2] == runner.USBH for e in events):
            print("error: usbh: the board engine emulates the Pico (RP2040) only; the USB host variant is a "
                  "Pico 2 (RP2350), which rp2040js does not emulate (docs/usb-host.md)", file=sys.stderr)
            return 2

        try:
            files = engine.find_files(args.uf2, args.mpy_cross, args.bootrom)
        except engine.Missing as e:
            print("error: %s" % e, file=sys.stderr)
            return 2
        try:
            result = engine.board_run(config_text, inputs, events, args.until, nvm=nvm, clock_in=clock_in,
                                      files=files)
        except engine.BoardError as e:
            print("error: %s" % e, file=sys.stderr)
            return 1
    else:
        result = runner.simulate(config_text, inputs, events, args.until, nvm=nvm, clock_in=clock_in,
                                 python_costs=args.cost_model == "python")
    data = report.write_outputs(result, args.out, plot=not args.no_plot)
    report.print_summary(data, args.out, sys.stdout)
    return 0
