"""``python -m host_tools explain CONFIG``: each preset of a config.json in words.

    Preset 2: KeyStep plays the JU-06A
      KeyStep (in1) notes, CC, pitch bend, channel pressure on ch 1 -> JU-06A (out3), moved to ch 5
      clock from Analog Four (in2) to out2, out3, out4 (out1: clock.send off)
      CV: not used (no route to cv)

The words come from the firmware's checked settings (``firmware/config.py``: the same rules
the box applies, defaults filled in), so what is said is what the box will do. Port names:
a top-level ``"names"`` object (``{"in1": "KeyStep", "out3": "JU-06A"}``, issue 16) is used
when present (config format 2; the firmware's checker resolves names used as ports). The
editor (``host_tools.editor``) shows the same text.
"""

import argparse
import json
import sys

from host_tools import fwimport
from host_tools.midiwords import note_name

INPUTS = ("in1", "in2", "in3", "in4", "usb", "usbh")  # firmware/router.py
OUTPUTS = ("out1", "out2", "out3", "out4", "usb", "cv", "usbh")
KIND_WORDS = {
    "notes": "notes", "poly_pressure": "poly pressure", "control_change": "CC",
    "program_change": "program change", "channel_pressure": "channel pressure", "pitch_bend": "pitch bend",
    "sysex": "SysEx", "clock": "clock", "transport": "transport", "song_position": "song position",
    "mtc": "MTC", "tune_request": "tune request", "active_sensing": "active sensing", "reset": "reset",
}
CHANNEL_KINDS = ("notes", "poly_pressure", "control_change", "program_change", "channel_pressure", "pitch_bend")
STATUS_KIND = {0x80: "notes", 0x90: "notes", 0xA0: "poly_pressure", 0xB0: "control_change",
               0xC0: "program_change", 0xD0: "channel_pressure", 0xE0: "pitch_bend"}


class ExplainError(Exception):
    """The config cannot be explained (unreadable, or the box would refuse it)."""


def port_names(raw):
    """The config's ``"names"`` map, tolerantly: {port: name} for string values of 1-32
    characters naming a known port; anything else is ignored."""
    names = raw.get("names") if isinstance(raw, dict) else None
    if not isinstance(names, dict):
        return {}
    ports = set(INPUTS) | set(OUTPUTS)
    return {p: n.strip() for p, n in names.items() if p in ports and isinstance(n, str) and 0 < len(n.strip()) <= 32}


def label(port, names):
    """"KeyStep (in1)", or "in1" without a name. The input side of a USB port, as the
    simulator's files and the bridge call it ("usb_in", "usbh_in"), carries that port's name."""
    name = names.get(port[:-3] if port.endswith("_in") else port)
    return "%s (%s)" % (name, port) if name else port


def config_names(path):
    """``port_names`` of the config file at ``path`` (decode --config); {} when it has none.
    Raises OSError or ValueError (not JSON) for the caller to word."""
    with open(path, encoding="utf-8") as f:
        return port_names(json.loads(f.read()))


def channel_ranges(mask):
    """A 16-bit channel mask -> "1-4, 10" (1-based)."""
    chans = [c + 1 for c in range(16) if mask >> c & 1]
    parts = []
    for c in chans:
        if parts and parts[-1][1] == c - 1:
            parts[-1][1] = c
        else:
            parts.append([c, c])
    return ", ".join("%d" % a if a == b else "%d-%d" % (a, b) for a, b in parts)


def _firmware():
    config = fwimport.firmware_module("config")
    midi = fwimport.firmware_module("midi")
    return config, midi


def kind_words(bits):
    """Kind bits -> "notes, CC, pitch bend" ("everything" for the default set)."""
    config, midi = _firmware()
    if bits == midi.KIND_ALL:
        return "everything (active sensing too)"
    if bits == config.DEFAULT_KINDS:
        return "everything"
    return ", ".join(KIND_WORDS[name] for name, bit in midi.KIND_NAMES if bits & bit)


def route_words(route, names):
    """One checked route (firmware/config.py's form) in words."""
    config, midi = _firmware()
    sources = [INPUTS[i] for i in route["from"]]
    targets = [OUTPUTS[o] for o in route["to"]]
    src = "all inputs" if len(sources) == len(INPUTS) else ", ".join(label(p, names) for p in sources)
    dst = "all outputs" if route.get("all_to") else ", ".join(label(p, names) for p in targets)
    what = kind_words(route["kinds"])
    channel_bits = 0
    for name, bit in midi.KIND_NAMES:
        if name in CHANNEL_KINDS:
            channel_bits |= bit
    if route["channels"] != 0xFFFF and route["kinds"] & channel_bits:
        what += " on ch %s" % channel_ranges(route["channels"])
    if what.startswith("everything"):
        text = "%s from %s -> %s" % (what, src, dst)
    else:
        text = "%s %s -> %s" % (src, what, dst)
    changes = []
    remap = route["remap"]
    if remap:
        targets_by_kind = {}
        for status, ch in sorted(remap.items()):
            targets_by_kind.setdefault(STATUS_KIND[status], ch + 1)
        chans = set(targets_by_kind.values())
        if len(targets_by_kind) == len(CHANNEL_KINDS) and len(chans) == 1:
            changes.append("moved to ch %d" % chans.pop())
        else:
            changes.extend("%s moved to ch %d" % (KIND_WORDS[k], c) for k, c in targets_by_kind.items())
    for status, j in sorted(route.get("follow", {}).items()):
        if status != 0x80:
            changes.append("%s on %s's last note channel" % (KIND_WORDS[STATUS_KIND[status]], label(INPUTS[j], names)))
    if route.get("notes"):
        low, high = route["notes"]
        changes.append("notes %s-%s only" % (note_name(low), note_name(high)))
    if route.get("controllers") is not None:
        changes.append("only CC %s" % ", ".join(str(c) for c in range(128) if route["controllers"][c]))
    for cc, to in sorted(route.get("cc_map", {}).items()):
        changes.append("CC %d as CC %d" % (cc, to))
    if route["transpose"]:
        changes.append("transposed %+d semitones" % route["transpose"])
    if route["velocity"] is not None:
        scale, offset = route["velocity"]
        changes.append("velocity x%d%%%s" % (scale, " %+d" % offset if offset else ""))
    if route.get("all_to") and "usb" in sources:
        changes.append("usb never echoed back to usb")
    return text + (", " + ", ".join(changes) if changes else "")


def _names_usbh(preset):
    """Whether the preset names the USB host port itself (not only through "all"): only then do
    the words mention it, as most boxes have none (docs/usb-host.md)."""
    usbh_in, usbh_out = INPUTS.index("usbh"), OUTPUTS.index("usbh")
    for route in preset["routes"]:
        if (usbh_out in route["to"] and not route.get("all_to")) or \
                (usbh_in in route["from"] and len(route["from"]) < len(INPUTS)):
            return True
    return preset["clock"]["master"] == "usbh"


def clock_words(preset, names, version=1):
    """Where clock and transport come from and go, in one line."""
    clock = preset["clock"]
    master = clock["master"]
    send = clock.get("send", {})
    divide = clock.get("divide", {})
    midi_outs = [o for o in OUTPUTS if o != "cv" and (o != "usbh" or _names_usbh(preset))]
    on = [o for o in midi_outs if send.get(o, True)]
    off = [o for o in midi_outs if not send.get(o, True)]

    def outs(ports):
        if not ports:
            return "no output"
        return ", ".join(label(p, names) + (" (1 tick in %d)" % divide[p] if divide.get(p, 1) > 1 else "")
                         for p in ports)

    def carried(inputs):
        """Outputs the routes carry clock to from any of ``inputs``, clock.send applied (in
        format 2 the clock section alone decides: every output send allows)."""
        _, midi = _firmware()
        if version >= 2:
            return [p for p in on if not (p == "usb" and inputs == ["usb"])]
        got = []
        for route in preset["routes"]:
            if not route["kinds"] & midi.KIND_CLOCK or not any(INPUTS[i] in inputs for i in route["from"]):
                continue
            for o in route["to"]:
                port = OUTPUTS[o]
                if route.get("all_to") and port == "usb" and inputs == ["usb"]:
                    continue
                if port != "cv" and port in on and port not in got:
                    got.append(port)
        return [p for p in midi_outs if p in got]

    suffix = " (%s: clock.send off)" % ", ".join(off) if off else ""
    if master == "internal":
        return "clock: internal at %s BPM to %s%s" % (_number(clock["bpm"]), outs(on), suffix)
    if master == "clock_in":
        return "clock: from the clock-in jack to %s%s" % (outs(on), suffix)
    if master == "auto":
        reach = carried(list(INPUTS))
        return ("clock: master auto (the input that last sent Start), %sto %s%s"
                % ("" if version >= 2 else "through the routes ", outs(reach), suffix))
    return "clock from %s to %s%s" % (label(master, names), outs(carried([master])), suffix)


def _number(value):
    return "%g" % value


def _uses_cv(preset):
    cv = OUTPUTS.index("cv")
    return any(cv in route["to"] for route in preset["routes"])


def cv_words(preset):
    """The CV engine's setup as lines (one when it is not used)."""
    if not _uses_cv(preset):
        return ["CV: not used (no route to cv)"]
    cv = preset["cv"]
    mode = cv["mode"]
    voices = cv["voices"]
    lines = []
    first_free = 0

    def range_words(voice):
        low, high = voice.get("notes", [0, 127])
        return "" if (low, high) == (0, 127) else ", notes %s to %s" % (note_name(low), note_name(high))

    if mode in ("poly", "unison"):
        poly = cv["poly"]
        count = poly["voices"]
        if mode == "poly":
            lines.append("CV: poly on ch %d over voices 1-%d (%s allocation)%s"
                         % (poly["channel"], count, poly["allocation"].replace("_", " "), range_words(voices[0])))
        else:
            lines.append("CV: unison on ch %d, voices 1-%d play one note (%s-note priority)%s"
                         % (poly["channel"], count, voices[0]["priority"], range_words(voices[0])))
        first_free = count
    for n in range(first_free, len(voices)):
        v = voices[n]
        extra = []
        if v["transpose"]:
            extra.append("transpose %+d" % v["transpose"])
        if v["glide_ms"]:
            extra.append("glide %d ms" % v["glide_ms"])
        if v["legato"]:
            extra.append("legato")
        lines.append("CV voice %d (cv%d, gate%d, mod%d): ch %d%s, %s-note priority, mod = %s%s"
                     % (n + 1, n + 1, n + 1, n + 1, v["channel"], range_words(v), v["priority"], v["mod"],
                        "".join(", " + e for e in extra)))
    drums = cv["drums"]
    mode = drums["mode"]
    how = mode if isinstance(mode, str) else "/".join(sorted(set(mode)))
    if how == "trigger":
        how = "%d ms triggers" % drums["trigger_ms"]
    lines.append("drums: ch %d, %s -> drum1..drum8 (%s)"
                 % (drums["channel"], " ".join(note_name(n) for n in drums["notes"]), how))
    analog = preset["clock"]["analog"]
    res = analog["resolution"]
    lines.append("clock jacks: %s, %d ms pulses; reset on Start, run while playing"
                 % ("%d PPQN" % res if isinstance(res, int) else "a pulse every %s note" % res
                    if res != "1bar" else "a pulse every bar", analog["pulse_ms"]))
    return lines


def shared_words(routes, names):
    """Routes that share an input and an output (each transforms: a split or a layer on one
    output, firmware/shared_pairs.py) in words: each sends its own copy of what it carries."""
    config, _ = _firmware()
    sharing = {}  # (input, output) -> route numbers (1-based)
    for r, route in enumerate(routes):
        if not config.is_transform(route):
            continue  # (plain routes sharing a pair send a message once)
        for i in route["from"]:
            for o in route["to"]:
                if not (route.get("all_to") and INPUTS[i] == OUTPUTS[o]):
                    sharing.setdefault((i, o), []).append(r + 1)
    pairs = {}  # route numbers -> the pairs they share
    for pair, numbers in sharing.items():
        if len(numbers) > 1:
            pairs.setdefault(tuple(numbers), []).append(pair)
    return ["%s: routes %s each send their own copy of what they carry (a split or a layer)"
            % (", ".join("%s -> %s" % (label(INPUTS[i], names), label(OUTPUTS[o], names)) for i, o in shared),
               ", ".join(str(n) for n in numbers))
            for numbers, shared in pairs.items()]


def explain_settings(settings, names):
    """Checked settings -> lines of text."""
    lines = []
    version = settings.get("version", 1)
    if names:
        ports = [p for k, p in enumerate(INPUTS + OUTPUTS) if p in names and p not in (INPUTS + OUTPUTS)[:k]]
        lines.append("ports: " + ", ".join("%s = %s" % (p, names[p]) for p in ports))
    select = settings.get("preset_select")
    if select is not None:
        lines.append("presets: a program change n on %s ch %d selects preset n + 1 (not forwarded)"
                     % (label(INPUTS[select[0]], names), select[1] + 1))
    for k, preset in enumerate(settings["presets"]):
        lines.append("Preset %d: %s" % (k + 1, preset["name"]))
        if not preset["routes"]:
            lines.append("  routes nothing")
        for route in preset["routes"]:
            lines.append("  " + route_words(route, names))
        lines.extend("  " + line for line in shared_words(preset["routes"], names))
        for o, ch, program, msb, lsb in preset.get("on_enter", ()):
            bank = "" if msb < 0 else " bank %d%s" % (msb, "" if lsb < 0 else "/%d" % lsb)
            lines.append("  on entering: program %d%s on ch %d -> %s" % (program, bank, ch + 1, label(OUTPUTS[o], names)))
        lines.append("  " + clock_words(preset, names, version))
        lines.extend("  " + line for line in cv_words(preset))
    return lines


def explain_text(text):
    """Config text -> lines. Raises ExplainError when the box would refuse the config."""
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise ExplainError("not valid JSON (%s): run python -m host_tools validate for the details" % e) from None
    names = port_names(raw)
    config, _ = _firmware()
    settings, errors = config.check(raw)
    if errors:
        more = " (and %d more: run python -m host_tools validate)" % (len(errors) - 1) if len(errors) > 1 else ""
        raise ExplainError("the box would refuse it: %s%s" % (errors[0], more))
    return explain_settings(settings, names)


def _parser():
    p = argparse.ArgumentParser(prog="python -m host_tools explain",
                                description="Each preset of a config.json in words, with port names.")
    p.add_argument("config", metavar="CONFIG", help="the config.json to explain")
    return p


def main(argv):
    args = _parser().parse_args(argv)
    try:
        try:
            with open(args.config, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise ExplainError("cannot read (%s)" % e.strerror) from None
        except UnicodeDecodeError as e:
            raise ExplainError("not UTF-8 text (%s)" % e.reason) from None
        lines = explain_text(text)
    except ExplainError as e:
        print("error: %s: %s" % (args.config, e), file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0
