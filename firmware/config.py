"""config.json: read it, check it, and fall back to the safe routing when it is broken.

``load(text)`` returns ``(settings, errors)``. ``errors`` is a list of messages that each name the
key path and the reason; when it is not empty, ``settings`` is the safe default (every input
merged to every output) so the box always routes. The user's file is never written.

Runs on the board (no jsonschema there) and on the host, where ``host_tools`` uses the same
function so the simulator and the box judge a config alike.
"""

from firmware.midi import KIND_ACTIVE_SENSING, KIND_ALL, KIND_NAMES
from firmware.router import INPUTS, OUTPUTS

VERSION = 1
MAX_CONFIG_BYTES = 32768  # a larger file is refused before parsing (heap safety)
MAX_PRESETS = 16
MAX_ROUTES = 32
DEFAULT_KINDS = KIND_ALL & ~KIND_ACTIVE_SENSING  # FE is answered locally, not forwarded

DEFAULT_CONFIG = {  # type: dict
    "version": VERSION,
    "presets": [{"name": "Merge all", "routes": [{"from": "all", "to": "all"}]}],
}


class ConfigError(Exception):
    pass


def _ports(value, names, path, errors):
    if value == "all":
        return list(range(len(names)))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        errors.append("%s: expected a port name, a list of port names or \"all\"" % path)
        return []
    out = []
    for k, name in enumerate(value):
        if name not in names:
            errors.append("%s[%d]: unknown port %r (ports are %s)" % (path, k, name, ", ".join(names)))
        elif names.index(name) not in out:
            out.append(names.index(name))
    return out


def _kinds(value, path, errors):
    if value == "all":
        return KIND_ALL
    if not isinstance(value, list):
        errors.append("%s: expected a list of message kinds or \"all\"" % path)
        return 0
    known = dict(KIND_NAMES)
    bits = 0
    for k, name in enumerate(value):
        if name not in known:
            errors.append(
                "%s[%d]: unknown message kind %r (kinds are %s)"
                % (path, k, name, ", ".join(n for n, _ in KIND_NAMES))
            )
        else:
            bits |= known[name]
    return bits


def _channels(value, path, errors):
    if value == "all":
        return 0xFFFF
    if not isinstance(value, list):
        errors.append("%s: expected a list of MIDI channels 1-16 or \"all\"" % path)
        return 0
    bits = 0
    for k, ch in enumerate(value):
        if not isinstance(ch, int) or isinstance(ch, bool) or not 1 <= ch <= 16:
            errors.append("%s[%d]: %r is not a MIDI channel (1-16)" % (path, k, ch))
        else:
            bits |= 1 << (ch - 1)
    return bits


def _route(raw, path, errors):
    if not isinstance(raw, dict):
        errors.append("%s: expected an object" % path)
        return None
    for key in raw:
        if key not in ("from", "to", "kinds", "channels"):
            errors.append("%s.%s: unknown key" % (path, key))
    for key in ("from", "to"):
        if key not in raw:
            errors.append("%s.%s: missing (a port name, a list of them, or \"all\")" % (path, key))
    route = {
        "from": _ports(raw.get("from", []), INPUTS, path + ".from", errors),
        "to": _ports(raw.get("to", []), OUTPUTS, path + ".to", errors),
        "kinds": _kinds(raw["kinds"], path + ".kinds", errors) if "kinds" in raw else DEFAULT_KINDS,
        "channels": _channels(raw.get("channels", "all"), path + ".channels", errors),
    }
    if raw.get("to") == "all":
        route["all_to"] = True
    return route


def check(raw):
    """Check a parsed config. Returns ``(settings, errors)`` with settings only if no errors."""
    errors = []
    if not isinstance(raw, dict):
        return None, ["(top level): expected a JSON object"]
    for key in raw:
        if key not in ("version", "presets", "comment"):
            errors.append("%s: unknown key" % key)
    version = raw.get("version", VERSION)
    if version != VERSION:
        errors.append("version: %r is not supported (this firmware reads version %d)" % (version, VERSION))
    presets_raw = raw.get("presets", DEFAULT_CONFIG["presets"])
    presets = []
    if not isinstance(presets_raw, list) or not presets_raw:
        errors.append("presets: expected a non-empty list of presets")
        presets_raw = []
    elif len(presets_raw) > MAX_PRESETS:
        errors.append("presets: %d presets, at most %d" % (len(presets_raw), MAX_PRESETS))
        presets_raw = []
    for p, preset in enumerate(presets_raw):
        path = "presets[%d]" % p
        if not isinstance(preset, dict):
            errors.append("%s: expected an object" % path)
            continue
        for key in preset:
            if key not in ("name", "routes"):
                errors.append("%s.%s: unknown key" % (path, key))
        name = preset.get("name", "Preset %d" % (p + 1))
        if not isinstance(name, str):
            errors.append("%s.name: expected a string" % path)
        routes_raw = preset.get("routes", DEFAULT_CONFIG["presets"][0]["routes"])
        if not isinstance(routes_raw, list):
            errors.append("%s.routes: expected a list of routes" % path)
            routes_raw = []
        elif len(routes_raw) > MAX_ROUTES:
            errors.append("%s.routes: %d routes, at most %d" % (path, len(routes_raw), MAX_ROUTES))
            routes_raw = []
        routes = []
        for r, route in enumerate(routes_raw):
            checked = _route(route, "%s.routes[%d]" % (path, r), errors)
            if checked is not None:
                routes.append(checked)
        presets.append({"name": name, "routes": routes})
    if errors:
        return None, errors
    return {"presets": presets}, []


def default_settings():
    settings, errors = check(DEFAULT_CONFIG)
    if errors:  # the built-in default must always be valid
        raise ConfigError(errors[0])
    return settings


def load(text):
    """Parse and check config text. Returns ``(settings, errors)``; never raises on bad input."""
    import json

    if text is None:
        return default_settings(), ["config.json: not found; using the default routing (everything merged)"]
    if len(text) > MAX_CONFIG_BYTES:
        return default_settings(), ["config.json: %d bytes, at most %d" % (len(text), MAX_CONFIG_BYTES)]
    try:
        raw = json.loads(text)
    except ValueError as e:
        return default_settings(), ["config.json: not valid JSON (%s)" % e]
    settings, errors = check(raw)
    if errors:
        return default_settings(), errors
    return settings, []
