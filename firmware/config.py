"""config.json: read it, check it, and fall back to the safe routing when it is broken.

``load(data)`` (the file's bytes, or text) returns ``(settings, errors)``. ``errors`` lists every
problem found (up to ``MAX_ERRORS``), each naming its key path and the reason; when it is not
empty, ``settings`` is the safe default (every input merged to every output) so the box always
routes. Bytes of any kind never make it raise: ``decode`` accepts a UTF-8 byte-order mark and
says in words what else is wrong (empty, UTF-16, not UTF-8 and where, NUL bytes), and
``json_mistake`` names the usual hand-editing mistakes (trailing comma, comments, single
quotes, a file cut short). ``validate`` on the host gives the same words. The user's file is
never written. ``check(raw)`` does the same on an already parsed document and returns ``(None,
errors)`` when it is invalid.

The format is documented field by field in docs/config.md; ``config.schema.json`` (JSON Schema,
used on the host) states the same rules, and tests/test_config.py proves the two agree on a
corpus. A few rules cross fields and are checked here only (the schema cannot say them): a route
with a transform shares an input and an output only with other routes with a transform (at most
``MAX_COPIES``: a split or a layer), and calibration points ascend.

Checked settings (what the rest of the firmware reads)::

    {"presets": [preset, ...], "outputs": {port: {...}}, "calibration": {jack: {...}},
     "panel": {"brightness": float, "long_press_ms": int}}
    preset = {"name": str, "routes": [route, ...], "clock": {...}, "cv": {...}}
    route = {"from": [input index], "to": [output index], "kinds": kind bits,
             "channels": 16-bit mask, "all_to": True (only if "to" was "all"),
             "remap": {status high nibble: channel 0-15} ({} when none),
             "transpose": int, "velocity": None or (scale_percent, offset)}

``clock``, ``cv`` and ``calibration`` are complete dicts: the user's keys over copies of
``firmware.defaults``' ``DEFAULT_CLOCK``, ``DEFAULT_CV`` and ``DEFAULT_CALIBRATION`` (a start-up
module; values such as "cc:1", "1/4" and port names stay strings).

Runs on the board (no jsonschema there) and on the host, where ``host_tools`` uses the same
function so the simulator and the box judge a config alike. Runs once at start-up, never on the
byte path.
"""

from firmware.defaults import DEFAULT_CALIBRATION, DEFAULT_CLOCK, DEFAULT_CV
from firmware.midi import KIND_ACTIVE_SENSING, KIND_ALL, KIND_NAMES
from firmware.output_queues import MAX_COPIES
from firmware.router import INPUTS, OUTPUTS

VERSION = 2  # the format this firmware writes about; version 1 files are read too
VERSIONS = (1, 2)
# Heap safety (the Pico has about 187 KB free at boot, most of it the firmware's): the text, its
# parse and the checked settings must fit at once. Measured on the MicroPython VM
# (tests/test_config.py): 128 checked routes in 16 presets, each with its own clock and cv,
# take about 25 KB; the counts below bound the parse itself.
MAX_CONFIG_BYTES = 16384  # a larger file is refused before parsing
MAX_DEPTH = 8  # brackets nested deeper are refused before parsing (no deep recursion anywhere)
MAX_CONTAINERS = 1024  # objects and lists in the file
MAX_STRINGS = 2048  # strings in the file, keys included (most keys cost nothing: interned)
MAX_PRESETS = 16
MAX_ROUTES = 32  # in one preset
MAX_TOTAL_ROUTES = 128  # in all presets together
MAX_NAME = 32
MAX_ERRORS = 40  # bounded report: a big broken file must not fill the heap with messages
DEFAULT_KINDS = KIND_ALL & ~KIND_ACTIVE_SENSING  # FE is answered locally, not forwarded

DEFAULT_CONFIG = {  # type: dict
    "version": 1,
    "presets": [{"name": "Merge all", "routes": [{"from": "all", "to": "all"}]}],
}

MIDI_OUTPUTS = tuple(p for p in OUTPUTS if p != "cv")  # ports that carry MIDI bytes
JACKS = ("cv1", "cv2", "cv3", "cv4", "mod1", "mod2", "mod3", "mod4")
CHANNEL_KINDS = (  # the kinds a remap may name, and the status high nibbles each covers
    ("notes", (0x80, 0x90)),
    ("poly_pressure", (0xA0,)),
    ("control_change", (0xB0,)),
    ("program_change", (0xC0,)),
    ("channel_pressure", (0xD0,)),
    ("pitch_bend", (0xE0,)),
)
CLOCK_MASTERS = ("auto", "internal", "clock_in")  # or an input port
RESOLUTIONS = (1, 2, 4, 24, 48, "1/8", "1/4", "1/2", "1bar")
CV_MODES = ("mono", "poly", "unison")
PRIORITIES = ("last", "low", "high")
ALLOCATIONS = ("cyclic", "reuse", "steal_oldest", "low", "high")
MODS = ("velocity", "aftertouch", "pitch_bend")  # or "cc:N"
DRUM_MODES = ("trigger", "gate")

DEFAULT_OUTPUT = {"running_status": True}
DEFAULT_PANEL = {"brightness": 0.2, "long_press_ms": 600}

_FORBIDDEN = object()  # marks a value a checker rejected
# Checked settings are read-only: identical parts are shared to keep the heap small (a preset
# without "clock" or "cv" shares one complete default; routes share their port lists).
_NO_REMAP = {}  # type: dict


class ConfigError(Exception):
    pass


class Errors:
    """The report: the first MAX_ERRORS messages, and how many more there were."""

    def __init__(self):
        self.items = []
        self.more = 0

    def add(self, message):
        if len(self.items) < MAX_ERRORS:
            self.items.append(message)
        else:
            self.more += 1

    def result(self):
        out = list(self.items)
        if self.more:
            out.append("... and %d more problems" % self.more)
        return out


def _show(value):
    """A short repr for messages (a long value is cut: the report stays small). Objects are
    not spelled out: MicroPython's dicts keep no key order, and the message must not differ."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        for v in value:
            if isinstance(v, (dict, list)):
                return "a list"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return text


def _copy(value):
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(v) for v in value]
    return value


# -- value checkers: each returns the checked value, or _FORBIDDEN after adding an error ------


def _object(raw, path, keys, errors):
    """``raw`` must be an object whose keys are in ``keys`` (plus "comment", a string)."""
    if not isinstance(raw, dict):
        errors.add("%s: expected an object, not %s" % (path, _show(raw)))
        return None
    for key in raw:
        if key == "comment":
            if not isinstance(raw[key], str):
                errors.add("%s.comment: expected a string" % path)
        elif key not in keys:
            errors.add("%s.%s: unknown key (keys are %s)" % (path, key, ", ".join(keys)))
    return raw


def _map(raw, path, names, what, errors):
    """An object keyed by names (ports, jacks, kinds): unknown keys are errors."""
    if not isinstance(raw, dict):
        errors.add("%s: expected an object keyed by %s, not %s" % (path, what, _show(raw)))
        return None
    for key in raw:
        if key not in names:
            errors.add("%s.%s: unknown %s (%ss are %s)" % (path, key, what, what, ", ".join(names)))
    return raw


def _is_integer(value):
    # JSON has one number type: 2.0 is an integer, as JSON Schema's "integer" says.
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and -1e9 < value < 1e9 and value == int(value)


def _integer(value, lo, hi, path, errors):
    if _is_integer(value):
        if lo <= value <= hi:
            return int(value)
        errors.add("%s: %s is out of range (%d..%d)" % (path, _show(value), lo, hi))
    elif isinstance(value, float) and value * 0 == 0:  # finite (NaN and inf are not JSON)
        if -1e9 < value < 1e9:
            errors.add("%s: %s is not an integer (%d..%d)" % (path, _show(value), lo, hi))
        else:
            errors.add("%s: %s is out of range (%d..%d)" % (path, _show(value), lo, hi))
    else:
        errors.add("%s: expected an integer %d..%d, not %s" % (path, lo, hi, _show(value)))
    return _FORBIDDEN


def _number(value, lo, hi, path, errors):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if lo <= value <= hi:  # NaN fails both comparisons
            return float(value)
        errors.add("%s: %s is out of range (%s..%s)" % (path, _show(value), lo, hi))
    else:
        errors.add("%s: expected a number %s..%s, not %s" % (path, lo, hi, _show(value)))
    return _FORBIDDEN


def _bool(value, path, errors):
    if value is True or value is False:
        return value
    errors.add("%s: expected true or false, not %s" % (path, _show(value)))
    return _FORBIDDEN


def _choice(value, choices, path, errors):
    if isinstance(value, str) and value in choices:
        return value
    errors.add("%s: %s is not one of %s" % (path, _show(value), ", ".join(choices)))
    return _FORBIDDEN


def _name(value, path, errors):
    if isinstance(value, str) and 1 <= len(value) <= MAX_NAME:
        return value
    errors.add("%s: expected a string of 1-%d characters, not %s" % (path, MAX_NAME, _show(value)))
    return _FORBIDDEN


# -- port names (top-level "names", version 2) ------------------------------------------------
# A name stands for its port wherever a port is written. ``check`` sets ``_NAMES`` (name ->
# port) for the document it checks and clears it after; the checker runs once, at start-up.
NAMED_PORTS = ("in1", "in2", "in3", "in4", "out1", "out2", "out3", "out4", "usb", "usbh")
RESERVED_NAMES = ("all", "cv", "auto", "internal", "clock_in")
_NAMES = {}  # type: dict


def _looks_like_port(value):
    # "in9", "out0", "usb", "cv", "all"...: never a name, so a typo of a port is "unknown port".
    for head in ("in", "out"):
        if value[:len(head)] == head and value[len(head):] and value[len(head):].isdigit():
            return True
    return value in RESERVED_NAMES or value in NAMED_PORTS


def _names(raw, errors):
    out = {}  # type: dict
    if _map(raw, "names", NAMED_PORTS, "port", errors) is None:
        return out
    for port in NAMED_PORTS:
        if port not in raw:
            continue
        path = "names." + port
        name = _name(raw[port], path, errors)
        if name is _FORBIDDEN:
            continue
        if _looks_like_port(name):
            errors.add("%s: %s looks like a port; a name must not (ports, all, cv, auto, internal, clock_in)"
                       % (path, _show(name)))
        elif name in out:
            errors.add("%s: %s already names %s" % (path, _show(name), out[name]))
        else:
            out[name] = port
    return out


def _port(value):
    """A port written in the config: a port name, or a name from "names"."""
    if isinstance(value, str):
        return _NAMES.get(value, value)
    return value


def _unknown_port(value, path, names, errors):
    # ``value``: as written (a name is not resolved yet).
    if isinstance(value, str) and value in _NAMES:
        errors.add("%s: %s is the name of %s (ports here are %s)" % (path, _show(value), _NAMES[value], ", ".join(names)))
    elif isinstance(value, str) and not _looks_like_port(value):
        errors.add("%s: %s is neither a port nor a name from \"names\" (ports are %s)"
                   % (path, _show(value), ", ".join(names)))
    else:
        errors.add("%s: unknown port %s (ports are %s)" % (path, _show(value), ", ".join(names)))


def _v2(raw, keys, path, errors, version):
    # Keys new in format 2 are refused in a version 1 file, saying what to change.
    if version >= 2 or not isinstance(raw, dict):
        return
    for key in keys:
        if key in raw:
            errors.add('%s.%s: new in config format 2: set "version": 2 (docs/config.md, "Version 2")'
                       % (path, key) if path else
                       '%s: new in config format 2: set "version": 2 (docs/config.md, "Version 2")' % key)


def _fields(raw, spec, out, path, errors):
    """Check each key of ``raw`` named in ``spec`` ((key, checker) pairs) into ``out``."""
    for key, checker in spec:
        if key in raw:
            value = checker(raw[key], path + "." + key, errors)
            if value is not _FORBIDDEN:
                out[key] = value


# -- routes -------------------------------------------------------------------------------


def _ports(value, names, path, errors, shared):
    if value == "all":
        out = list(range(len(names)))
    elif isinstance(value, str):
        if _port(value) not in names:
            _unknown_port(value, path, names, errors)
            return []
        out = [names.index(_port(value))]
    elif not isinstance(value, list) or not 1 <= len(value) <= len(names):
        errors.add("%s: expected a port name, a list of 1-%d port names or \"all\"" % (path, len(names)))
        return []
    else:
        out = []
        for k, name in enumerate(value):
            port = _port(name)
            if not isinstance(port, str) or port not in names:
                _unknown_port(name, "%s[%d]" % (path, k), names, errors)
            elif names.index(port) not in out:
                out.append(names.index(port))
    # One list object per distinct set of ports (the key is a small int bitmask).
    key = 0
    for i in out:
        key |= 1 << i
    key |= len(names) << 8
    if key in shared:
        return shared[key]
    shared[key] = out
    return out


def _kinds(value, path, errors):
    if value == "all":
        return KIND_ALL
    if not isinstance(value, list) or not 1 <= len(value) <= len(KIND_NAMES):
        errors.add("%s: expected a list of 1-%d message kinds or \"all\"" % (path, len(KIND_NAMES)))
        return 0
    bits = 0
    for k, name in enumerate(value):
        found = 0
        for known, bit in KIND_NAMES:
            if name == known:
                found = bit
        if not found:
            errors.add(
                "%s[%d]: unknown message kind %s (kinds are %s)"
                % (path, k, _show(name), ", ".join(n for n, _ in KIND_NAMES))
            )
        bits |= found
    return bits


def _channels(value, path, errors):
    if value == "all":
        return 0xFFFF
    if not isinstance(value, list) or not 1 <= len(value) <= 16:
        errors.add("%s: expected a list of 1-16 MIDI channels (1-16) or \"all\"" % path)
        return 0
    bits = 0
    for k, ch in enumerate(value):
        if not _is_integer(ch) or not 1 <= ch <= 16:
            errors.add("%s[%d]: %s is not a MIDI channel (1-16)" % (path, k, _show(ch)))
        else:
            bits |= 1 << (int(ch) - 1)
    return bits


FOLLOW = "follow:"  # a remap target: the channel of an input's last note-on (version 2)


def _remap(raw, path, errors, version):
    # Returns ({status high nibble: channel 0-15}, {status high nibble: followed input index}).
    names = tuple(n for n, _ in CHANNEL_KINDS)
    if _map(raw, path, names, "channel kind", errors) is None:
        return _FORBIDDEN
    out = {}
    follow = {}
    for name, nibbles in CHANNEL_KINDS:
        if name not in raw:
            continue
        value = raw[name]
        p = path + "." + name
        if isinstance(value, str) and value[:len(FOLLOW)] == FOLLOW:
            if version < 2:
                errors.add('%s: "follow:" is new in config format 2: set "version": 2 (docs/config.md, "Version 2")' % p)
                continue
            if name == "notes":
                errors.add("%s: notes cannot follow (a note-off must reach the channel of its note-on)" % p)
                continue
            src = value[len(FOLLOW):]
            if _port(src) not in INPUTS:
                _unknown_port(src, p, INPUTS, errors)
                continue
            src = _port(src)
            for hi in nibbles:
                follow[hi] = INPUTS.index(src)
            continue
        if isinstance(value, str):
            errors.add('%s: %s is not a channel 1..16 or "follow:" and an input' % (p, _show(value)))
            continue
        ch = _integer(value, 1, 16, p, errors)
        if ch is not _FORBIDDEN:
            for hi in nibbles:
                out[hi] = ch - 1
    return out, follow


def _controllers(value, path, errors):
    # A bytearray(128): 1 for each CC number that passes.
    if not isinstance(value, list) or not 1 <= len(value) <= 128:
        errors.add("%s: expected a list of 1-128 controller numbers (0-127)" % path)
        return _FORBIDDEN
    out = bytearray(128)
    ok = True
    for k, n in enumerate(value):
        if _integer(n, 0, 127, "%s[%d]" % (path, k), errors) is _FORBIDDEN:
            ok = False
        else:
            out[int(n)] = 1
    return out if ok else _FORBIDDEN


def _cc_map(raw, path, errors):
    # {"1": 74}: {1: 74}. Keys are controller numbers as JSON strings, 0-127, no leading zero.
    if not isinstance(raw, dict) or not raw:
        errors.add("%s: expected an object controller number -> controller number, e.g. {\"1\": 74}" % path)
        return _FORBIDDEN
    out = {}
    for key in raw:
        ok = isinstance(key, str) and 1 <= len(key) <= 3 and key.isdigit() and not (len(key) > 1 and key[0] == "0")
        if not ok or int(key) > 127:
            errors.add("%s: %s is not a controller number (0-127)" % (path, _show(key)))
            continue
        target = _integer(raw[key], 0, 127, "%s.%s" % (path, key), errors)
        if target is not _FORBIDDEN:
            out[int(key)] = target
    return out if len(out) == len(raw) else _FORBIDDEN


def _velocity(raw, path, errors):
    if _object(raw, path, ("scale", "offset"), errors) is None:
        return _FORBIDDEN
    scale = _integer(raw.get("scale", 100), 0, 400, path + ".scale", errors)
    offset = _integer(raw.get("offset", 0), -127, 127, path + ".offset", errors)
    if scale is _FORBIDDEN or offset is _FORBIDDEN:
        return _FORBIDDEN
    if scale == 100 and offset == 0:
        return None  # the identity: no transform
    return (scale, offset)


TOP_KEYS = ("version", "presets", "outputs", "calibration", "panel", "names", "preset_select")
TOP_KEYS_2 = ("names", "preset_select")  # new in format 2
ROUTE_KEYS = ("from", "to", "kinds", "channels", "channel", "remap", "transpose", "velocity",
              "controllers", "cc_map", "notes")
ROUTE_KEYS_2 = ("controllers", "cc_map", "notes")


def _route(raw, path, errors, shared, version):
    if _object(raw, path, ROUTE_KEYS, errors) is None:
        return None
    _v2(raw, ROUTE_KEYS_2, path, errors, version)
    for key in ("from", "to"):
        if key not in raw:
            errors.add("%s.%s: missing (a port name, a list of them, or \"all\")" % (path, key))
    route = {
        "from": _ports(raw["from"], INPUTS, path + ".from", errors, shared) if "from" in raw else [],
        "to": _ports(raw["to"], OUTPUTS, path + ".to", errors, shared) if "to" in raw else [],
        "kinds": _kinds(raw["kinds"], path + ".kinds", errors) if "kinds" in raw else DEFAULT_KINDS,
        "channels": _channels(raw["channels"], path + ".channels", errors) if "channels" in raw else 0xFFFF,
        "remap": _NO_REMAP,
        "transpose": 0,
        "velocity": None,
        "follow": _NO_REMAP,  # {status high nibble: followed input}
        "controllers": None,  # bytearray(128), 1 where a CC passes; None: all pass
        "cc_map": _NO_REMAP,  # {cc: cc sent}
        "notes": None,  # (low, high): the notes (and poly pressure) that pass
    }
    if raw.get("to") == "all":
        route["all_to"] = True
    remap = {}
    if "channel" in raw:
        ch = _integer(raw["channel"], 1, 16, path + ".channel", errors)
        if ch is not _FORBIDDEN:
            for _, nibbles in CHANNEL_KINDS:
                for hi in nibbles:
                    remap[hi] = ch - 1
    if "remap" in raw:
        per_kind = _remap(raw["remap"], path + ".remap", errors, version)
        if per_kind is not _FORBIDDEN:
            remap.update(per_kind[0])  # remap wins over channel
            if per_kind[1]:
                route["follow"] = per_kind[1]
                for hi in per_kind[1]:
                    remap.pop(hi, None)  # a followed kind takes the follow, not channel
    if version >= 2:
        _fields(raw, (("controllers", _controllers), ("cc_map", _cc_map), ("notes", _note_range)), route, path, errors)
    if remap:
        route["remap"] = remap
    if "transpose" in raw:
        t = _integer(raw["transpose"], -48, 48, path + ".transpose", errors)
        if t is not _FORBIDDEN:
            route["transpose"] = t
    if "velocity" in raw:
        v = _velocity(raw["velocity"], path + ".velocity", errors)
        if v is not _FORBIDDEN:
            route["velocity"] = v
    return route


def is_transform(route):
    """Does a checked route change or filter messages past kind and channel (channel, remap,
    transpose, velocity, controllers, cc_map, notes)?"""
    return (bool(route["remap"]) or route["transpose"] != 0 or route["velocity"] is not None or bool(route["follow"])
            or route["controllers"] is not None or bool(route["cc_map"]) or route["notes"] is not None)


def _pairs(route):
    """The (input, output) pairs a checked route joins ("all" never joins usb to usb, nor usbh
    to usbh)."""
    out = []
    for i in route["from"]:
        for o in route["to"]:
            if route.get("all_to") and INPUTS[i] == OUTPUTS[o]:
                continue
            out.append((i, o))
    return out


def _check_transforms(routes, path, errors):
    # A transform route never shares an input and an output with a route that changes nothing:
    # the message would leave twice, changed and unchanged. Routes that each transform may
    # share them, up to MAX_COPIES (a keyboard split or a layer on one output: the message
    # leaves once per route that sends it; firmware/output_queues.py sizes its room for that).
    shared = {}  # type: dict  # pair -> the transform routes joining it
    for r, route in enumerate(routes):
        if route is None or not is_transform(route):
            continue
        mine = _pairs(route)
        for pair in mine:
            shared.setdefault(pair, []).append(r)
        for q, other in enumerate(routes):
            if q == r or other is None or is_transform(other):
                continue
            for pair in _pairs(other):
                if pair in mine:
                    errors.add(
                        "%s.routes[%d]: transforms %s -> %s, which routes[%d] also joins unchanged; a route with "
                        "channel, remap, transpose, velocity, controllers, cc_map or notes may share an input and an "
                        "output only with other such routes (a split or a layer)"
                        % (path, r, INPUTS[pair[0]], OUTPUTS[pair[1]], q)
                    )
                    break
    reported = set()
    for pair, rs in shared.items():
        if len(rs) > MAX_COPIES and rs[MAX_COPIES] not in reported:
            reported.add(rs[MAX_COPIES])
            errors.add("%s.routes[%d]: transforms %s -> %s, which %d routes with a transform already join; at most "
                       "%d may share an input and an output" % (path, rs[MAX_COPIES], INPUTS[pair[0]], OUTPUTS[pair[1]],
                                                                MAX_COPIES, MAX_COPIES))


# -- clock and cv sections ------------------------------------------------------------------


def _master(value, path, errors):
    port = _port(value)
    if isinstance(port, str) and (port in CLOCK_MASTERS or port in INPUTS):
        return port
    if isinstance(value, str) and (value in _NAMES or not _looks_like_port(value)):
        _unknown_port(value, path, INPUTS, errors)
        return _FORBIDDEN
    errors.add(
        "%s: %s is not a clock master (%s, or an input: %s)"
        % (path, _show(value), ", ".join(CLOCK_MASTERS), ", ".join(INPUTS))
    )
    return _FORBIDDEN


def _resolution(value, path, errors):
    if isinstance(value, str):
        if value in RESOLUTIONS:
            return value
    elif _is_integer(value) and int(value) in RESOLUTIONS:
        return int(value)
    errors.add(
        "%s: %s is not a clock resolution (%s)" % (path, _show(value), ", ".join(str(r) for r in RESOLUTIONS))
    )
    return _FORBIDDEN


def _port_values(raw, path, errors, default, checker):
    """An object output port -> value, merged over ``default`` (a dict with every port)."""
    out = _copy(default)
    raw = _port_keys(raw, path, OUTPUTS, errors)
    if _map(raw, path, OUTPUTS, "output port", errors) is not None:
        for port in OUTPUTS:
            if port in raw:
                value = checker(raw[port], path + "." + port, errors)
                if value is not _FORBIDDEN:
                    out[port] = value
    return out


def _port_keys(raw, path, ports, errors):
    # An object keyed by ports, with names from "names" turned into their ports; a key that is
    # a name of another kind of port, or no name at all, is reported here.
    if not isinstance(raw, dict):
        return raw
    out = {}  # type: dict
    for key, value in raw.items():
        port = _port(key)
        if port not in ports and (key in _NAMES or not _looks_like_port(key)):
            _unknown_port(key, path + "." + key, ports, errors)
        else:
            out[port] = value
    return out


def _clock(raw, path, errors, default):
    out = _copy(default)
    if _object(raw, path, ("master", "bpm", "send", "divide", "analog"), errors) is None:
        return out
    _fields(raw, (("master", _master), ("bpm", lambda v, p, e: _number(v, 20, 300, p, e))), out, path, errors)
    if "send" in raw:
        out["send"] = _port_values(raw["send"], path + ".send", errors, out["send"], _bool)
    if "divide" in raw:
        out["divide"] = _port_values(
            raw["divide"], path + ".divide", errors, out["divide"], lambda v, p, e: _integer(v, 1, 16, p, e)
        )
    if "analog" in raw:
        apath = path + ".analog"
        if _object(raw["analog"], apath, ("resolution", "pulse_ms", "reset_ms"), errors) is not None:
            _fields(
                raw["analog"],
                (
                    ("resolution", _resolution),
                    ("pulse_ms", lambda v, p, e: _integer(v, 1, 50, p, e)),
                    ("reset_ms", lambda v, p, e: _integer(v, 1, 50, p, e)),
                ),
                out["analog"],
                apath,
                errors,
            )
    return out


def _mod(value, path, errors):
    if isinstance(value, str):
        if value in MODS:
            return value
        digits = value[3:]
        if value[:3] == "cc:" and 1 <= len(digits) <= 3 and not (len(digits) > 1 and digits[0] == "0"):
            ok = True
            for c in digits:
                if c not in "0123456789":
                    ok = False
            if ok and int(digits) <= 127:
                return value
    errors.add("%s: %s is not a mod source (%s, or \"cc:N\" with N 0-127)" % (path, _show(value), ", ".join(MODS)))
    return _FORBIDDEN


def _note_range(value, path, errors):
    # ``[low, high]``: two notes, low <= high (the range includes both).
    out = _notes(value, path, errors, 2)
    if out is not _FORBIDDEN and out[0] > out[1]:
        errors.add("%s: the low note %d is above the high note %d" % (path, out[0], out[1]))
        return _FORBIDDEN
    return out


VOICE_SPEC = (
    ("channel", lambda v, p, e: _integer(v, 1, 16, p, e)),
    ("priority", lambda v, p, e: _choice(v, PRIORITIES, p, e)),
    ("legato", _bool),
    ("transpose", lambda v, p, e: _integer(v, -48, 48, p, e)),
    ("bend_range", lambda v, p, e: _integer(v, 0, 24, p, e)),
    ("glide_ms", lambda v, p, e: _integer(v, 0, 5000, p, e)),
    ("mod", _mod),
    ("mod_range", lambda v, p, e: _number(v, 0, 5, p, e)),
    ("notes", _note_range),
)


def _drum_mode(value, path, errors):
    if isinstance(value, str):
        return _choice(value, DRUM_MODES, path, errors)
    if isinstance(value, list) and len(value) == 8:
        ok = True
        for k, m in enumerate(value):
            if _choice(m, DRUM_MODES, "%s[%d]" % (path, k), errors) is _FORBIDDEN:
                ok = False
        return list(value) if ok else _FORBIDDEN
    errors.add("%s: expected \"trigger\", \"gate\" or a list of 8 of them, not %s" % (path, _show(value)))
    return _FORBIDDEN


def _notes(value, path, errors, count=8):
    if not isinstance(value, list) or len(value) != count:
        errors.add("%s: expected a list of %d notes 0-127, not %s" % (path, count, _show(value)))
        return _FORBIDDEN
    out = []
    for k, n in enumerate(value):
        note = _integer(n, 0, 127, "%s[%d]" % (path, k), errors)
        out.append(note)
    return _FORBIDDEN if _FORBIDDEN in out else out


def _cv(raw, path, errors, default):
    out = _copy(default)
    if _object(raw, path, ("mode", "voices", "poly", "drums"), errors) is None:
        return out
    _fields(raw, (("mode", lambda v, p, e: _choice(v, CV_MODES, p, e)),), out, path, errors)
    if "voices" in raw:
        vpath = path + ".voices"
        voices = raw["voices"]
        if not isinstance(voices, list) or not 1 <= len(voices) <= 4:
            errors.add("%s: expected a list of 1-4 voice objects, not %s" % (vpath, _show(voices)))
        else:
            for n, voice in enumerate(voices):
                p = "%s[%d]" % (vpath, n)
                if _object(voice, p, tuple(k for k, _ in VOICE_SPEC), errors) is not None:
                    _fields(voice, VOICE_SPEC, out["voices"][n], p, errors)
    if "poly" in raw:
        ppath = path + ".poly"
        if _object(raw["poly"], ppath, ("channel", "voices", "allocation"), errors) is not None:
            _fields(
                raw["poly"],
                (
                    ("channel", lambda v, p, e: _integer(v, 1, 16, p, e)),
                    ("voices", lambda v, p, e: _integer(v, 2, 4, p, e)),
                    ("allocation", lambda v, p, e: _choice(v, ALLOCATIONS, p, e)),
                ),
                out["poly"],
                ppath,
                errors,
            )
    if "drums" in raw:
        dpath = path + ".drums"
        if _object(raw["drums"], dpath, ("channel", "notes", "mode", "trigger_ms"), errors) is not None:
            _fields(
                raw["drums"],
                (
                    ("channel", lambda v, p, e: _integer(v, 1, 16, p, e)),
                    ("notes", _notes),
                    ("mode", _drum_mode),
                    ("trigger_ms", lambda v, p, e: _integer(v, 1, 100, p, e)),
                ),
                out["drums"],
                dpath,
                errors,
            )
    return out


# -- top-level sections ---------------------------------------------------------------------


def _points(value, path, errors):
    if not isinstance(value, list) or not 2 <= len(value) <= 16:
        errors.add("%s: expected a list of 2-16 [volts_wanted, volts_measured] pairs" % path)
        return _FORBIDDEN
    out = []
    for k, pair in enumerate(value):
        p = "%s[%d]" % (path, k)
        if not isinstance(pair, list) or len(pair) != 2:
            errors.add("%s: expected a pair [volts_wanted, volts_measured], not %s" % (p, _show(pair)))
            continue
        wanted = _number(pair[0], -1, 10.5, p + "[0]", errors)
        measured = _number(pair[1], -1, 10.5, p + "[1]", errors)
        if wanted is not _FORBIDDEN and measured is not _FORBIDDEN:
            out.append([wanted, measured])
    if len(out) != len(value):
        return _FORBIDDEN
    for k in range(1, len(out)):
        if out[k][0] <= out[k - 1][0] or out[k][1] <= out[k - 1][1]:
            errors.add("%s[%d]: points must ascend in both volts (each above the one before)" % (path, k))
            return _FORBIDDEN
    return out


def _calibration(raw, errors, default):
    out = _copy(default)
    if _map(raw, "calibration", JACKS, "jack", errors) is None:
        return out
    for jack in JACKS:
        if jack not in raw:
            continue
        path = "calibration." + jack
        entry = _object(raw[jack], path, ("offset", "scale", "points"), errors)
        if entry is None:
            continue
        if "points" in entry:
            if "offset" in entry or "scale" in entry:
                errors.add("%s: give either offset/scale or points, not both" % path)
                continue
            points = _points(entry["points"], path + ".points", errors)
            if points is not _FORBIDDEN:
                out[jack] = {"points": points}
        else:
            checked = {"offset": 0.0, "scale": 1.0}
            _fields(
                entry,
                (
                    ("offset", lambda v, p, e: _number(v, -0.5, 0.5, p, e)),
                    ("scale", lambda v, p, e: _number(v, 0.9, 1.1, p, e)),
                ),
                checked,
                path,
                errors,
            )
            out[jack] = checked
    return out


def _outputs(raw, errors):
    out = {port: dict(DEFAULT_OUTPUT) for port in MIDI_OUTPUTS}
    raw = _port_keys(raw, "outputs", MIDI_OUTPUTS, errors)
    if _map(raw, "outputs", MIDI_OUTPUTS, "output port", errors) is None:
        return out
    for port in MIDI_OUTPUTS:
        if port in raw:
            path = "outputs." + port
            if _object(raw[port], path, ("running_status",), errors) is not None:
                _fields(raw[port], (("running_status", _bool),), out[port], path, errors)
    return out


def _panel(raw, errors):
    out = dict(DEFAULT_PANEL)
    if _object(raw, "panel", ("brightness", "long_press_ms"), errors) is not None:
        _fields(
            raw,
            (
                ("brightness", lambda v, p, e: _number(v, 0, 1, p, e)),
                ("long_press_ms", lambda v, p, e: _integer(v, 200, 3000, p, e)),
            ),
            out,
            "panel",
            errors,
        )
    return out


MAX_ON_ENTER = 16


def _bank(value, path, errors):
    # CC 0, or [msb, lsb]: CC 0 and CC 32. Returns (msb, lsb) with lsb -1 when not sent.
    if isinstance(value, list):
        if len(value) != 2:
            errors.add("%s: expected a bank 0-127 or [msb, lsb], not %s" % (path, _show(value)))
            return _FORBIDDEN
        msb = _integer(value[0], 0, 127, path + "[0]", errors)
        lsb = _integer(value[1], 0, 127, path + "[1]", errors)
        return _FORBIDDEN if msb is _FORBIDDEN or lsb is _FORBIDDEN else (msb, lsb)
    msb = _integer(value, 0, 127, path, errors)
    return _FORBIDDEN if msb is _FORBIDDEN else (msb, -1)


def _on_enter(value, path, errors):
    # [(output index, channel 0-15, program, bank msb or -1, bank lsb or -1)]
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_ON_ENTER:
        errors.add("%s: expected a list of 1-%d program changes" % (path, MAX_ON_ENTER))
        return _FORBIDDEN
    out = []
    for n, raw in enumerate(value):
        p = "%s[%d]" % (path, n)
        if _object(raw, p, ("to", "channel", "program", "bank"), errors) is None:
            continue
        for key in ("to", "channel", "program"):
            if key not in raw:
                errors.add("%s.%s: missing" % (p, key))
        # Every key given is checked, whatever else is wrong (the schema reports each one too).
        to = _port(raw["to"]) if "to" in raw else _FORBIDDEN
        if "to" in raw and (not isinstance(to, str) or to not in MIDI_OUTPUTS):
            _unknown_port(raw["to"], p + ".to", MIDI_OUTPUTS, errors)
            to = _FORBIDDEN
        ch = _integer(raw["channel"], 1, 16, p + ".channel", errors) if "channel" in raw else _FORBIDDEN
        program = _integer(raw["program"], 0, 127, p + ".program", errors) if "program" in raw else _FORBIDDEN
        bank = _bank(raw["bank"], p + ".bank", errors) if "bank" in raw else (-1, -1)
        if _FORBIDDEN not in (to, ch, program, bank):
            out.append((OUTPUTS.index(to), ch - 1, program, bank[0], bank[1]))  # type: ignore[operator]
    return out if len(out) == len(value) else _FORBIDDEN


def _preset(raw, path, index, errors, clock_default, cv_default, shared, version=1):
    if _object(raw, path, ("name", "routes", "clock", "cv", "on_enter"), errors) is None:
        return None
    _v2(raw, ("on_enter",), path, errors, version)
    name = "Preset %d" % (index + 1)
    if "name" in raw:
        checked = _name(raw["name"], path + ".name", errors)
        if checked is not _FORBIDDEN:
            name = checked
    routes_raw = raw.get("routes", DEFAULT_CONFIG["presets"][0]["routes"])
    routes = []
    if not isinstance(routes_raw, list):
        errors.add("%s.routes: expected a list of routes, not %s" % (path, _show(routes_raw)))
    elif len(routes_raw) > MAX_ROUTES:
        errors.add("%s.routes: %d routes, at most %d" % (path, len(routes_raw), MAX_ROUTES))
    else:
        for r, route in enumerate(routes_raw):
            routes.append(_route(route, "%s.routes[%d]" % (path, r), errors, shared, version))
        _check_transforms(routes, path, errors)
    if "clock" in raw:
        clock = _clock(raw["clock"], path + ".clock", errors, clock_default)
    else:
        clock = shared.setdefault("clock", _copy(clock_default))
    if "cv" in raw:
        cv = _cv(raw["cv"], path + ".cv", errors, cv_default)
    else:
        cv = shared.setdefault("cv", _copy(cv_default))
    preset = {"name": name, "routes": [r for r in routes if r is not None], "clock": clock, "cv": cv}
    if "on_enter" in raw and version >= 2:
        on_enter = _on_enter(raw["on_enter"], path + ".on_enter", errors)
        if on_enter is not _FORBIDDEN:
            preset["on_enter"] = on_enter
    return preset


def _preset_select(raw, errors):
    # (input index, channel 0-15), or None.
    if _object(raw, "preset_select", ("from", "channel"), errors) is None:
        return None
    for key in ("from", "channel"):
        if key not in raw:
            errors.add("preset_select.%s: missing" % key)
    if "from" not in raw or "channel" not in raw:
        return None
    src = _port(raw["from"])
    ch = _integer(raw["channel"], 1, 16, "preset_select.channel", errors)
    if not isinstance(src, str) or src not in INPUTS:
        _unknown_port(raw["from"], "preset_select.from", INPUTS, errors)
        return None
    return None if ch is _FORBIDDEN else (INPUTS.index(src), ch - 1)


def check(raw):
    """Check a parsed config. Returns ``(settings, errors)``; settings is None if any error."""
    errors = Errors()
    if not isinstance(raw, dict):
        return None, ["(top level): expected a JSON object, not %s" % _show(raw)]
    for key in raw:
        if key == "comment":
            if not isinstance(raw[key], str):
                errors.add("comment: expected a string")
        elif key not in TOP_KEYS:
            errors.add("%s: unknown key (keys are %s)" % (key, ", ".join(TOP_KEYS)))
    version = raw.get("version", 1)
    if not _is_integer(version) or version not in VERSIONS:
        errors.add("version: %s is not supported (this firmware reads versions 1 and %d)" % (_show(version), VERSION))
        version = VERSION  # check the rest as the newest format
    version = int(version)
    _v2(raw, TOP_KEYS_2, "", errors, version)
    _NAMES.clear()
    if "names" in raw and version >= 2:
        _NAMES.update(_names(raw["names"], errors))
    try:
        return _check(raw, errors, version)
    finally:
        _NAMES.clear()


def _check(raw, errors, version):
    clock_default, cv_default, calibration_default = DEFAULT_CLOCK, DEFAULT_CV, DEFAULT_CALIBRATION
    presets_raw = raw.get("presets", DEFAULT_CONFIG["presets"])
    presets = []
    if not isinstance(presets_raw, list) or not presets_raw:
        errors.add("presets: expected a non-empty list of presets")
    elif len(presets_raw) > MAX_PRESETS:
        errors.add("presets: %d presets, at most %d" % (len(presets_raw), MAX_PRESETS))
    else:
        total = 0
        for preset in presets_raw:
            if isinstance(preset, dict) and isinstance(preset.get("routes"), list):
                total += len(preset["routes"])
        if total > MAX_TOTAL_ROUTES:
            errors.add("presets: %d routes in all presets, at most %d" % (total, MAX_TOTAL_ROUTES))
        else:
            shared = {}  # type: dict
            for p, preset in enumerate(presets_raw):
                checked = _preset(preset, "presets[%d]" % p, p, errors, clock_default, cv_default, shared, version)
                if checked is not None:
                    presets.append(checked)
    outputs = _outputs(raw["outputs"], errors) if "outputs" in raw else _outputs({}, errors)
    calibration = (
        _calibration(raw["calibration"], errors, calibration_default)
        if "calibration" in raw
        else _copy(calibration_default)
    )
    panel = _panel(raw["panel"], errors) if "panel" in raw else dict(DEFAULT_PANEL)
    select = _preset_select(raw["preset_select"], errors) if "preset_select" in raw and version >= 2 else None
    if errors.items:
        return None, errors.result()
    settings = {"version": version, "presets": presets, "outputs": outputs, "calibration": calibration,
                "panel": panel}
    if select is not None:
        settings["preset_select"] = select
    if "names" in raw:
        settings["names"] = {port: name for name, port in _NAMES.items()}
    return settings, []


def default_settings():
    settings, errors = check(DEFAULT_CONFIG)
    if errors or settings is None:  # the built-in default must always be valid
        raise ConfigError(errors[0] if errors else "default config")
    return settings


def scan(data):
    """``(depth, containers, strings)`` of JSON text (bytes): the deepest bracket nesting, the
    number of objects and lists, the number of strings (brackets inside strings ignored).

    Checked before parsing so no parser (the host's is recursive) and no checker ever meets
    deep nesting, and the parse cannot fill the heap (measured on the MicroPython VM: an empty
    list costs about 38 bytes, a short string about 37 bytes). A loop over bytes: iterating
    bytes yields ints and allocates nothing. Stops early once a limit is passed."""
    depth = 0
    deepest = 0
    containers = 0
    strings = 0
    in_string = False
    escaped = False
    for c in data:
        if in_string:
            if escaped:
                escaped = False
            elif c == 0x5C:  # backslash
                escaped = True
            elif c == 0x22:  # quote
                in_string = False
        elif c == 0x22:
            in_string = True
            strings += 1
        elif c == 0x5B or c == 0x7B:  # [ {
            depth += 1
            containers += 1
            if depth > deepest:
                deepest = depth
            if deepest > MAX_DEPTH or containers > MAX_CONTAINERS:
                break
        elif c == 0x5D or c == 0x7D:  # ] }
            depth -= 1
    return deepest, containers, strings


FILE = "config.json"  # the name every whole-file message starts with (tools may put theirs)
UTF8_BOM = b"\xef\xbb\xbf"


def _bad_utf8(data):
    """``(offset, byte)`` of the first byte of ``data`` that breaks UTF-8, or None."""
    need = 0
    start = 0
    offset = 0
    for c in data:
        if need:
            if c & 0xC0 != 0x80:
                return start, data[start]
            need -= 1
        elif c >= 0x80:
            if 0xC2 <= c <= 0xDF:
                need = 1
            elif 0xE0 <= c <= 0xEF:
                need = 2
            elif 0xF0 <= c <= 0xF4:
                need = 3
            else:
                return offset, c
            start = offset
        offset += 1
    if need:
        return start, data[start]
    return None


def decode(data):
    """``(text, error)``: ``data`` (the bytes of a config file) as text, or None and the reason
    in words. A UTF-8 byte-order mark is accepted (some editors write one); UTF-16, other
    encodings, NUL bytes and binary files are refused with what is wrong and where."""
    if data[:3] == UTF8_BOM:
        data = data[3:]
    if not data.strip():
        return None, "%s is empty" % FILE
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return None, "%s is UTF-16 text (it starts with a UTF-16 byte-order mark): save it as UTF-8" % FILE
    zero = data.find(b"\x00")
    if zero >= 0:
        return None, "%s is not text: a NUL byte at offset %d (UTF-16 or a binary file? save it as UTF-8)" % (FILE, zero)
    try:
        text = data.decode("utf-8")
    except UnicodeError:  # CPython's UnicodeDecodeError is one
        bad = _bad_utf8(data)
        where = " (byte 0x%02X at offset %d)" % (bad[1], bad[0]) if bad else ""
        return None, "%s is not UTF-8 text%s: save it as UTF-8" % (FILE, where)
    return text, None


def json_mistake(data):
    """What is wrong with JSON text in words, or None when nothing this looks for is: a
    trailing comma, a comment, single quotes, a word without quotes, a string or bracket left
    open or closed wrongly (Python's parser names none of these; MicroPython's, the board's,
    says only "syntax error in JSON" and even accepts a trailing comma). ``load`` runs it
    before parsing, so the box and ``validate`` refuse the same files with the same words.
    ``data``: UTF-8 bytes (or text). One pass over the bytes, start-up only."""
    if isinstance(data, str):
        data = data.encode()
    line = 1
    last = 0  # the last byte outside strings and blanks
    last_line = 1
    opened = bytearray(MAX_DEPTH)  # the brackets open, innermost last
    depth = 0
    in_string = False
    escaped = False
    word = -1  # offset where a bare word (true, false, null, or a mistake) started
    offset = -1
    for c in data:
        offset += 1
        if in_string:
            if escaped:
                escaped = False
            elif c == 0x5C:  # backslash
                escaped = True
            elif c == 0x22:  # quote
                in_string = False
            elif c == 0x0A:
                return "a string is not closed in line %d" % line
            continue
        letter = 0x61 <= c <= 0x7A or 0x41 <= c <= 0x5A or c == 0x5F
        if word >= 0 and not letter:
            if data[word:offset] not in (b"true", b"false", b"null"):
                return "%s in line %d needs double quotes (strings and keys are in double quotes)" % (
                    data[word:offset].decode(), line)
            word = -1
        if c == 0x0A:
            line += 1
            continue
        if c == 0x20 or c == 0x09 or c == 0x0D:
            continue
        if letter:
            # A letter after a digit is an exponent (1e3); any other starts a word.
            if word < 0 and not (0x30 <= last <= 0x39 or last == 0x2E):
                word = offset
        elif c == 0x22:
            in_string = True
        elif c == 0x2F:  # /
            return 'comments are not JSON (line %d); use a "comment" key' % line
        elif c == 0x27:  # '
            return "strings and keys need double quotes, not ' (line %d)" % line
        elif c == 0x5D or c == 0x7D:  # ] }
            if last == 0x2C:  # ,
                return "trailing comma after the last item in line %d" % last_line
            if not depth or opened[depth - 1] != c - 2:  # [ and { are 2 below ] and }
                return "a %s in line %d closes %s" % (
                    chr(c), line, "a " + chr(opened[depth - 1]) if depth else "nothing")
            depth -= 1
        elif c == 0x5B or c == 0x7B:  # [ {
            if depth == MAX_DEPTH:
                return "nested deeper than %d levels" % MAX_DEPTH
            opened[depth] = c
            depth += 1
        if not letter or word >= 0:
            last = c
        last_line = line
    if word >= 0 and data[word:] not in (b"true", b"false", b"null"):
        return "%s in line %d needs double quotes (strings and keys are in double quotes)" % (data[word:].decode(), line)
    if in_string:
        return "a string is not closed in line %d" % line
    if depth:
        return "the file ends before every { and [ is closed (cut short?)"
    return None


def load(text):
    """Parse and check config text (the file's bytes, or str). Returns ``(settings, errors)``;
    never raises on bad input, whatever the bytes: on any error the settings are the safe
    default and the errors say what is wrong in words."""
    import json

    if text is None:
        return default_settings(), ["%s: not found; using the default routing (everything merged)" % FILE]
    data = text.encode() if isinstance(text, str) else bytes(text)
    if len(data) > MAX_CONFIG_BYTES:
        # The board reads one byte past the limit (board_io): the true size is unknown.
        return default_settings(), ["%s: more than %d bytes, the most the box reads" % (FILE, MAX_CONFIG_BYTES)]
    text, problem = decode(data)
    if problem:
        return default_settings(), [problem]
    depth, containers, strings = scan(data)
    if depth > MAX_DEPTH:
        return default_settings(), ["%s: nested deeper than %d levels" % (FILE, MAX_DEPTH)]
    if containers > MAX_CONTAINERS or strings > MAX_STRINGS:
        return default_settings(), [
            "%s: more than %d objects and lists or %d strings (the box's memory)"
            % (FILE, MAX_CONTAINERS, MAX_STRINGS)
        ]
    problem = json_mistake(data)
    if problem:
        return default_settings(), ["%s: not valid JSON: %s" % (FILE, problem)]
    del data
    too_big = ["%s: too big for the memory left on the box" % FILE]
    try:
        raw = json.loads(text)
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        return default_settings(), ["%s: not valid JSON (%s)" % (FILE, e)]
    except MemoryError:
        return default_settings(), too_big
    del text
    try:
        settings, errors = check(raw)
    except MemoryError:
        raw = None
        return default_settings(), too_big
    if errors:
        return default_settings(), errors
    return settings, []
