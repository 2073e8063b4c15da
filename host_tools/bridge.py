"""``python -m host_tools bridge``: the firmware's Box on this computer, between real MIDI ports.

    python -m host_tools bridge --list [--api API]
    python -m host_tools bridge [--map in1=NAME ...] [--map out1=NAME ...] [--config FILE]
                                [--preset N|NAME] [--monitor] [--api API]

The unchanged merger (``firmware/app.py``'s ``Box`` with ``firmware/``'s parser, router and
queues) runs in this process; each port of the box is a port of the computer's MIDI system
(mido with python-rtmidi: ALSA on Linux, CoreMIDI on macOS, Windows MM; ``--api UNIX_JACK``
for JACK). ``--map PORT=NAME`` binds a box port to the system port whose name is NAME, or
else contains it (case-insensitive); PORT is ``in1``..``in4``, ``out1``..``out4``, ``usb`` (both
directions), ``usb_in`` or ``usb_out``. Unmapped box ports are absent, as a port whose hardware
failed on the board. There is no CV here (the internal ``cv`` output is absent).

Adapters (the same contract as ``firmware/ports.py``):
- ``MidoIn.read(buf)``: the bytes of every message the system port has pending, real-time
  included, encoded in full (the box handles running status on its inputs anyway).
- ``MidoOut.send(buf, start, end, now)``: the merged byte stream goes through ``StreamParser``,
  an incremental parser with running status, real-time bytes inside messages and SysEx, and
  each complete message is sent. (mido's own ``Parser`` drops the notes of a running-status
  stream, which is exactly what the merger emits; docs/design.md, "Libraries and chips".) It also remembers
  the notes it left sounding, so a stop sends their note-offs.

``--preset`` starts in that preset (a 1-based number or a name) instead of the first.
``--monitor`` prints every message as it enters and leaves, in the words of ``decode``
(``   1.234 out3   ch5 Note On E4 vel 100``, time in ms since the start); a port the config's
``"names"`` names is printed as ``explain`` prints it (``JU-06A (out3)``).

Time is ``time.monotonic()`` in ms, masked like ``supervisor.ticks_ms()``. The loop runs a box
pass, and sleeps 0.5 ms when a pass read nothing and nothing is queued. Ctrl-C stops it: held
notes get note-offs, ports are closed, exit 0.
"""

import argparse
import contextlib
import json
import os
import sys
import time

from host_tools import fwimport

IN_PORTS = ("in1", "in2", "in3", "in4", "usb")  # firmware/router.py INPUTS
OUT_PORTS = ("out1", "out2", "out3", "out4", "usb")  # OUTPUTS, without the internal cv
N_OUTPUTS = 6  # the box's outputs: the five above and cv (absent here)
TICKS_MASK = 0x1FFFFFFF
IDLE_SLEEP_S = 0.0005
OUT_ROOM = 256  # a computer's MIDI port takes whatever it is given
STATUS_EVERY_S = 5.0

_DATA_LEN = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
_COMMON_LEN = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0}


class BridgeError(Exception):
    """A problem the user must fix: main() prints it on one line and exits 2."""


class StreamParser:
    """Incremental MIDI 1.0 byte parser: ``feed(b)`` returns the bytes of a message completed by
    ``b`` (status restored under running status), or None.

    Real-time bytes come out at once, without touching the state of a message they interrupt.
    System common cancels running status; SysEx is collected to F7 (a status byte that cuts it
    ends it, counted in ``problems``). Data bytes with no status and undefined status bytes are
    dropped and counted."""

    def __init__(self):
        self.running = 0
        self.msg = bytearray()
        self.need = 0
        self.sysex = None
        self.problems = 0

    def feed(self, b):
        if b >= 0xF8:
            if b in (0xF9, 0xFD):
                self.problems += 1
                return None
            return bytes((b,))
        if b & 0x80:
            if self.sysex is not None:
                if b == 0xF7:
                    self.sysex.append(b)
                    done, self.sysex = bytes(self.sysex), None
                    return done
                self.problems += 1  # a SysEx cut by a status byte: what came is dropped
                self.sysex = None
            if self.msg:
                self.problems += 1  # a message cut short
                self.msg = bytearray()
            if b < 0xF0:
                self.running = b
                self.need = _DATA_LEN[b & 0xF0]
                self.msg.append(b)
            elif b == 0xF0:
                self.running = 0
                self.sysex = bytearray((b,))
            elif b in _COMMON_LEN:
                self.running = 0
                self.need = _COMMON_LEN[b]
                if self.need == 0:
                    return bytes((b,))
                self.msg.append(b)
            else:
                self.running = 0
                self.problems += 1  # F4, F5, or an F7 outside SysEx
            return None
        if self.sysex is not None:
            self.sysex.append(b)
            return None
        if not self.msg:
            if not self.running:
                self.problems += 1
                return None
            self.msg.append(self.running)
            self.need = _DATA_LEN[self.running & 0xF0]
        self.msg.append(b)
        if len(self.msg) == self.need + 1:
            done, self.msg = bytes(self.msg), bytearray()
            return done
        return None


class MidoIn:
    """A box input over a mido-style input port (anything with ``iter_pending()`` yielding
    messages that have ``bytes()``)."""

    def __init__(self, port, monitor=None):
        self.port = port
        self.pending = bytearray()
        self.messages = 0
        self.got = 0  # bytes handed to the box by the last read
        self.monitor = monitor  # called with the bytes of each message read, or None

    def read(self, buf):
        if not self.pending:
            for msg in self.port.iter_pending():
                data = bytes(msg.bytes())
                self.pending += data
                self.messages += 1
                if self.monitor is not None:
                    self.monitor(data)
        n = min(len(buf), len(self.pending))
        if n:
            buf[:n] = self.pending[:n]
            del self.pending[:n]
        self.got = n
        return n


class MidoOut:
    """A box output over a mido-style output port (anything with ``send(message)``)."""

    def __init__(self, port, make_message=None, monitor=None):
        self.port = port
        self.parser = StreamParser()
        self.sounding = set()  # (status of the note-on, note) left sounding
        self.messages = 0
        self.monitor = monitor  # called with the bytes of each message sent, or None
        if make_message is None:
            import mido

            def make_message(data):
                return mido.Message.from_bytes(list(data))

        self.make_message = make_message

    def send(self, buf, start, end, now):
        if end - start > OUT_ROOM:
            end = start + OUT_ROOM
        feed = self.parser.feed
        for k in range(start, end):
            data = feed(buf[k])
            if data is not None:
                self._send(data)
        return end - start

    def _send(self, data):
        kind = data[0] & 0xF0
        if kind == 0x90 and data[2]:
            self.sounding.add((data[0] & 0x0F, data[1]))
        elif kind == 0x80 or kind == 0x90:
            self.sounding.discard((data[0] & 0x0F, data[1]))
        self.port.send(self.make_message(data))
        self.messages += 1
        if self.monitor is not None:
            self.monitor(data)

    def release(self):
        """Note-offs for every note this port left sounding."""
        for channel, note in sorted(self.sounding):
            self.port.send(self.make_message(bytes((0x80 | channel, note, 0))))
        released = len(self.sounding)
        self.sounding.clear()
        return released


def ticks_ms(clock=time.monotonic):
    return int(clock() * 1000) & TICKS_MASK


def make_box(in_ports, out_ports, config_text, ticks, preset=0, monitor=None):
    """The firmware's Box over adapters. ``in_ports`` / ``out_ports``: {box port name: port};
    ``preset``: the 0-based preset to start in; ``monitor(port, data)``, if given, sees every
    message read (port ``in1``.. ``usb_in``) and sent (``out1``.. ``usb``)."""
    app = fwimport.firmware_module("app")
    config = fwimport.firmware_module("config")
    settings, errors = config.load(config_text)

    def watch(port):
        return None if monitor is None else (lambda data: monitor(port, data))

    inputs = [MidoIn(in_ports[p], monitor=watch("usb_in" if p == "usb" else p)) if p in in_ports else None
              for p in IN_PORTS]
    outputs = [MidoOut(out_ports[p], monitor=watch(p)) if p in out_ports else None for p in OUT_PORTS]
    outputs += [None] * (N_OUTPUTS - len(outputs))
    box = app.Box(inputs, outputs, ticks, settings, errors)
    if preset:
        box.select_preset(preset)
    return box, inputs, outputs


def printer(clock=time.monotonic, out=print, names=None):
    """``--monitor``: a ``monitor(port, data)`` that prints each message as ``decode`` does,
    ports named by ``names`` ({port: name}, explain.port_names)."""
    from host_tools.decode import describe, format_row
    from host_tools.explain import label

    t0 = clock()
    names = names or {}

    def monitor(port, data):
        out(format_row(int((clock() - t0) * 1e9), label(port, names), describe(data)), flush=True)

    return monitor


def run_loop(box, inputs, outputs, should_stop, sleep=time.sleep, status=None):
    """Step the box until ``should_stop()`` is true or Ctrl-C; then release held notes.
    Returns (passes, notes released)."""
    passes = 0
    released = 0
    try:
        while not should_stop():
            box.step()
            passes += 1
            if status is not None:
                status()
            if not box.merger.queued and not any(p is not None and (p.got or p.pending) for p in inputs):
                sleep(IDLE_SLEEP_S)
    except KeyboardInterrupt:
        pass
    finally:
        for o in outputs:
            if o is not None:
                released += o.release()
    return passes, released


# -- ports of the system -------------------------------------------------------------------------


def match_port(wanted, names, what):
    """The one name in ``names`` equal to ``wanted``, or else containing it (case-insensitive)."""
    if wanted in names:
        return wanted
    hits = [n for n in names if wanted.lower() in n.lower()]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise BridgeError("no MIDI %s port matches %r (%s: %s)" % (what, wanted, what + "s",
                                                                   ", ".join(names) or "none"))
    raise BridgeError("%r matches %d MIDI %s ports (%s): give more of the name" % (wanted, len(hits), what,
                                                                                  ", ".join(hits)))


def resolve_maps(maps, input_names, output_names):
    """``--map`` values -> ({box input: system input name}, {box output: system output name})."""
    ins, outs = {}, {}
    for spec in maps:
        if "=" not in spec:
            raise BridgeError("--map %s: expected PORT=NAME (PORT is in1..in4, out1..out4, usb, usb_in, usb_out)" % spec)
        port, name = spec.split("=", 1)
        if not name:
            raise BridgeError("--map %s: no port name after '='" % spec)
        targets = []
        if port in ("in1", "in2", "in3", "in4", "usb_in"):
            targets.append((ins, "usb" if port == "usb_in" else port, input_names, "input"))
        elif port in ("out1", "out2", "out3", "out4", "usb_out"):
            targets.append((outs, "usb" if port == "usb_out" else port, output_names, "output"))
        elif port == "usb":
            if any(name.lower() in n.lower() for n in input_names):
                targets.append((ins, "usb", input_names, "input"))
            if any(name.lower() in n.lower() for n in output_names) or not targets:
                targets.append((outs, "usb", output_names, "output"))
        else:
            raise BridgeError("--map %s: unknown box port %r (in1..in4, out1..out4, usb, usb_in, usb_out)"
                              % (spec, port))
        for table, box_port, names, what in targets:
            if box_port in table:
                raise BridgeError("--map %s: box port %s%s mapped twice" % (spec, box_port,
                                                                            "" if box_port != "usb" else " " + what))
            found = match_port(name, names, what)
            if found in table.values():
                raise BridgeError("--map %s: %r is already mapped to another %s" % (spec, found, what))
            table[box_port] = found
    return ins, outs


def _backend(api):
    import mido

    try:
        if api:
            return mido.Backend("mido.backends.rtmidi/" + api, load=True)
        return mido.Backend("mido.backends.rtmidi", load=True)
    except ImportError as e:
        raise BridgeError("python-rtmidi is not installed (%s): run make, or pip install -r requirements.txt" % e) \
            from None


@contextlib.contextmanager
def _quiet_c_stderr():
    """libasound prints its own error line to fd 2 before rtmidi raises; ours says it all."""
    try:
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        sys.stderr.flush()
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def system_ports(backend):
    try:
        with _quiet_c_stderr():
            return backend.get_input_names(), backend.get_output_names()
    except Exception as e:  # rtmidi raises its own SystemError subclasses, text only
        hint = ""
        if sys.platform.startswith("linux"):
            hint = " (on Linux: is the ALSA sequencer there, /dev/snd/seq? or use --api UNIX_JACK with a JACK server)"
        raise BridgeError("no MIDI system: %s%s" % (str(e).strip() or type(e).__name__, hint)) from None


def _open_input(backend, name):
    port = backend.open_input(name)
    rt = getattr(port, "_rt", None)
    if rt is not None and hasattr(rt, "ignore_types"):
        # mido's rtmidi backend filters active sensing out; the box must see it (a sender that
        # stops sending FE is lost and its notes are released).
        rt.ignore_types(False, False, False)
    return port


def _parser():
    p = argparse.ArgumentParser(prog="python -m host_tools bridge",
                                description="Run the box's merger on this computer between real MIDI ports.")
    p.add_argument("--list", action="store_true", help="list the MIDI ports and exit")
    p.add_argument("--map", action="append", default=[], metavar="PORT=NAME",
                   help="bind box port PORT (in1..in4, out1..out4, usb, usb_in, usb_out) to the system port "
                        "named NAME (or containing it)")
    p.add_argument("--config", help="config.json to run (default: the repo's config.json)")
    p.add_argument("--preset", metavar="N|NAME", help="preset to start in: its number (1-based) or its name")
    p.add_argument("--monitor", action="store_true", help="print every message in and out, in words")
    p.add_argument("--api", help="rtmidi API: LINUX_ALSA, UNIX_JACK, MACOSX_CORE, WINDOWS_MM (default: the platform's)")
    return p


def main(argv):
    args = _parser().parse_args(argv)
    try:
        backend = _backend(args.api)
        input_names, output_names = system_ports(backend)
        if args.list:
            print("MIDI inputs (for --map in1=NAME, usb_in=NAME):")
            for n in input_names:
                print("  %s" % n)
            print("MIDI outputs (for --map out1=NAME, usb_out=NAME):")
            for n in output_names:
                print("  %s" % n)
            return 0
        if not args.map:
            raise BridgeError("nothing to bridge: give --map PORT=NAME (see --list)")
        ins, outs = resolve_maps(args.map, input_names, output_names)
        config_path = args.config or str(fwimport.REPO / "config.json")
        try:
            with open(config_path) as f:
                config_text = f.read()
        except OSError as e:
            raise BridgeError("%s: cannot read (%s)" % (config_path, e.strerror)) from None
        settings, errors = fwimport.firmware_module("config").load(config_text)
        if errors:
            more = " (and %d more)" % (len(errors) - 1) if len(errors) > 1 else ""
            raise BridgeError("%s: %s%s" % (config_path, errors[0], more))
        preset = 0
        if args.preset is not None:
            from host_tools.presets import PresetChoiceError, preset_index

            try:
                preset = preset_index(args.preset, [p["name"] for p in settings["presets"]])
            except PresetChoiceError as e:
                raise BridgeError(str(e)) from None
        try:
            in_ports = {p: _open_input(backend, n) for p, n in ins.items()}
            out_ports = {p: backend.open_output(n) for p, n in outs.items()}
        except Exception as e:
            raise BridgeError("cannot open a MIDI port: %s" % e) from None
    except BridgeError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    from host_tools.explain import label, port_names

    names = port_names(json.loads(config_text))
    box, inputs, outputs = make_box(in_ports, out_ports, config_text, ticks_ms, preset,
                                    printer(names=names) if args.monitor else None)
    for p, n in ins.items():
        print("bridge: %-7s <- %s" % (label("usb_in" if p == "usb" else p, names), n))
    for p, n in outs.items():
        print("bridge: %-7s -> %s" % ("usb_out" if p == "usb" else label(p, names), n))
    print("bridge: running preset %d (%s); Ctrl-C to stop" % (box.preset + 1,
                                                             box.settings["presets"][box.preset]["name"]), flush=True)
    last = [time.monotonic(), None]

    def status():
        now = time.monotonic()
        if now - last[0] >= STATUS_EVERY_S:
            last[0] = now
            counts = (sum(p.messages for p in inputs if p), sum(p.messages for p in outputs if p))
            if counts != last[1]:
                last[1] = counts
                print("bridge: %d messages in, %d out" % counts, flush=True)

    _, held = run_loop(box, inputs, outputs, lambda: False, status=status)
    for port in list(in_ports.values()) + list(out_ports.values()):
        port.close()
    print("bridge: stopped: %d messages in, %d out%s" % (
        sum(p.messages for p in inputs if p), sum(p.messages for p in outputs if p),
        "" if not held else ", %d notes released" % held))
    return 0
