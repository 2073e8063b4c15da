"""``python -m host_tools validate CONFIG [--verbose]``: check a config.json as the box would,
and against the JSON Schema, and say what is wrong in words.

Two independent checkers judge the file:

- the firmware's own checker (``firmware/config.py`` loaded on the host through
  ``host_tools.fwimport``): exactly what the box prints on its serial console at boot;
- the JSON Schema ``config.schema.json`` at the repository root (when it exists; without it
  that half is skipped with a note).

What is printed, one line a problem, each naming the file and the key path:

- errors (the box would refuse the file): the firmware's messages, with the file's own name
  where the firmware says ``config.json``. The firmware words the file's own problems itself
  (``firmware/config.py``'s ``decode`` and ``json_mistake``: an empty file, UTF-16, bytes that
  are not UTF-8, a trailing comma, comments, single quotes, a file cut short; a UTF-8 byte order
  mark is accepted), so ``validate`` and the box say the same. An unknown key, port or kind that
  is close to a known one gets "did you mean". A schema error is shown only where the firmware
  found nothing at that key path (the two checkers are meant to agree; a lone schema error is a
  disagreement worth seeing). ``--verbose`` adds every schema message, in the schema's words.
- warnings (the box accepts the file, but it may not do what was meant): a route with
  ``channel`` and no ``channels`` (one letter apart: ``channel`` moves every channel message to
  that channel; ``"channels": "all"`` says it is meant), a preset without ``routes`` (it merges everything), a preset with ``routes: []``
  (it routes nothing).

Exit status 0 when both checkers accept the file (warnings or not), 2 otherwise (or when the
file cannot be read). ``host_tools.flash`` calls ``check_text`` before it writes a config to a
drive (with the file's bytes); the editor calls ``check_bytes`` as the user types.
"""

import argparse
import difflib
import json
import re
import sys

from host_tools import fwimport

SCHEMA = fwimport.REPO / "config.schema.json"
FIRMWARE_NAME = "config.json"  # how the firmware's whole-file messages name the file
# Firmware messages naming an unknown key, port or kind and listing the known ones.
_UNKNOWN_KEY = re.compile(r"^(?P<path>.*?)(?P<key>[^.\[\]]+): unknown key \(keys are (?P<keys>[^)]*)\)$")
_UNKNOWN_VALUE = re.compile(r"^(?P<head>.*: unknown (?:port|message kind) )'(?P<value>[^']*)' "
                            r"\((?P<what>ports|kinds) are (?P<names>[^)]*)\)$")


class ValidationSetupError(Exception):
    """The schema itself cannot be used (unreadable, not JSON, not a valid JSON Schema)."""


class Result:
    """What ``check_bytes`` found: ``errors`` (the box refuses the file), ``warnings``,
    ``schema_details`` (every schema message, for ``--verbose``), ``notes``. Each a line of
    text without the file name."""

    def __init__(self):
        self.errors = []
        self.warnings = []
        self.schema_details = []
        self.notes = []


def firmware_errors(data):
    """The firmware's verdict on the file's bytes: [] when the box would accept them."""
    return list(fwimport.config_errors(data))


def key_path(parts):
    """jsonschema's path (a deque of keys and indices) in the firmware's notation."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += "[%d]" % part
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def load_schema(schema_path):
    """The schema as a dict, or None when the file does not exist."""
    try:
        with open(schema_path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ValidationSetupError("%s: cannot read (%s)" % (schema_path, e.strerror)) from None
    try:
        schema = json.loads(text)
    except ValueError as e:
        raise ValidationSetupError("%s: not valid JSON (%s)" % (schema_path, e)) from None
    if text in _valid_schema_texts:
        return schema
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        raise ValidationSetupError("%s: not a valid JSON Schema (%s)" % (schema_path, e.message)) from None
    _valid_schema_texts.add(text)
    return schema


# Schema texts check_schema passed. Checking one takes 0.2 s, and a process that checks
# many configs (the tests, a flash after a flash) reads the same schema.
_valid_schema_texts = set()


def schema_messages(text, schema):
    """[(key path, message)] of ``text`` against ``schema`` (a dict), sorted by key path. Text
    that is not JSON gives [] here: the firmware checker reports it."""
    import jsonschema

    try:
        data = json.loads(text)
    except ValueError:
        return []
    validator = jsonschema.validators.validator_for(schema)(schema)
    found = sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [(key_path(e.absolute_path), e.message) for e in found]


def schema_errors(text, schema):
    return ["%s: %s" % pair for pair in schema_messages(text, schema)]


def named(message, name):
    """A firmware or schema message, naming the file ``name``: the firmware's whole-file
    messages start with "config.json"; the others start with a key path."""
    if message.startswith(FIRMWARE_NAME):
        return name + message[len(FIRMWARE_NAME):]
    return "%s: %s" % (name, message)


def whole_file(message):
    """The message of a whole-file problem without the file's name ("is empty", "not valid
    JSON: ..."), or None when the message names a key path."""
    if message.startswith(FIRMWARE_NAME + ": "):
        return message[len(FIRMWARE_NAME) + 2:]
    if message.startswith(FIRMWARE_NAME + " "):
        return message[len(FIRMWARE_NAME) + 1:]
    return None


def _closest(word, names):
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.8)
    return close[0] if close else None


def _did_you_mean(message):
    """A firmware message about an unknown key, port or kind, with the closest known one:
    "path.chanels: unknown key (did you mean "channels"? keys are ...)"."""
    m = _UNKNOWN_KEY.match(message)
    if m:
        keys = [k.strip() for k in m.group("keys").split(",")]
        close = _closest(m.group("key"), keys + ["comment"])
        if close:
            return "%s%s: unknown key (did you mean \"%s\"? keys are %s)" % (
                m.group("path"), m.group("key"), close, m.group("keys"))
        return message
    m = _UNKNOWN_VALUE.match(message)
    if m:
        close = _closest(m.group("value"), [k.strip() for k in m.group("names").split(",")])
        if close:
            return "%s'%s' (did you mean \"%s\"? %s are %s)" % (m.group("head"), m.group("value"), close,
                                                                 m.group("what"), m.group("names"))
    return message


# -- warnings: valid files that may not do what was meant ------------------------------------------


def warnings(raw):
    """Warnings about a parsed config (``raw``: the JSON document the box accepts)."""
    out = []
    if not isinstance(raw, dict):
        return out
    if "presets" not in raw:
        out.append("presets: missing: the box runs one preset that merges every input to every output")
        return out
    presets = raw["presets"]
    if not isinstance(presets, list):
        return out
    for p, preset in enumerate(presets):
        if not isinstance(preset, dict):
            continue
        name = "preset %s" % json.dumps(preset["name"]) if isinstance(preset.get("name"), str) else "this preset"
        routes = preset.get("routes")
        if "routes" not in preset:
            out.append("presets[%d]: no \"routes\": %s merges every input to every output (write "
                       "\"routes\": [{\"from\": \"all\", \"to\": \"all\"}] to say so)" % (p, name))
        elif routes == []:
            out.append("presets[%d].routes: [] routes nothing: every input is silent in %s" % (p, name))
        if not isinstance(routes, list):
            continue
        for r, route in enumerate(routes):
            if isinstance(route, dict) and "channel" in route and "channels" not in route:
                ch = route["channel"]
                out.append("presets[%d].routes[%d].channel: %s moves every channel message of this route to "
                           "channel %s, from any channel; to pass only channel %s write \"channels\": [%s] "
                           "(to say you meant it, add \"channels\": \"all\")"
                           % (p, r, json.dumps(ch), ch, ch, ch))
    return out


# -- the whole check -------------------------------------------------------------------------------


def _document(data):
    """The parsed JSON of the file's bytes (a UTF-8 byte order mark allowed, as the box does),
    or None."""
    try:
        return json.loads(data.decode("utf-8-sig"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None


def check_bytes(data, schema_path=SCHEMA):
    """Check a config file's bytes. Returns a ``Result``; its lines name no file (``named``)."""
    result = Result()
    firmware = firmware_errors(data)
    result.errors.extend(_did_you_mean(m) for m in firmware)
    document = _document(data)
    schema = load_schema(schema_path)
    if schema is None:
        result.notes.append("%s not found: JSON Schema check skipped (firmware checks only)" % schema_path)
    elif document is not None:
        flagged = [m.split(": ", 1)[0] for m in result.errors]
        for path, message in schema_messages(json.dumps(document), schema):
            result.schema_details.append("%s: %s" % (path, message))
            if not any(path == f or path.startswith(f + ".") or path.startswith(f + "[") or
                       f.startswith(path + ".") or f.startswith(path + "[") for f in flagged):
                result.errors.append("%s: %s (JSON Schema)" % (path, message))
    if not result.errors:
        result.warnings = warnings(document)
    return result


def check_text(data, schema_path=SCHEMA):
    """``(errors, notes)`` for a config's bytes (or text) (``host_tools.flash``)."""
    result = check_bytes(data.encode("utf-8") if isinstance(data, str) else bytes(data), schema_path)
    return result.errors, result.notes


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m host_tools validate",
        description="Check a config.json with the firmware's checker and the JSON Schema.",
    )
    p.add_argument("config", metavar="CONFIG", help="the config.json to check")
    p.add_argument("--schema", default=str(SCHEMA), help="JSON Schema to use (default: config.schema.json)")
    p.add_argument("--verbose", "-v", action="store_true", help="also print every JSON Schema message")
    return p


def main(argv):
    args = _parser().parse_args(argv)
    name = args.config
    try:
        with open(name, "rb") as f:
            data = f.read()
    except OSError as e:
        print("error: %s: cannot read (%s)" % (name, e.strerror), file=sys.stderr)
        return 2
    try:
        result = check_bytes(data, args.schema)
    except ValidationSetupError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    for note in result.notes:
        print("note: %s" % note)
    if args.verbose:
        for line in result.schema_details:
            print("schema: %s" % named(line, name))
    for line in result.warnings:
        print("warning: %s" % named(line, name))
    if result.errors:
        for line in result.errors:
            print("error: %s" % named(line, name), file=sys.stderr)
        count = len(result.errors)
        print("%s: %d problem%s: the box would ignore this file and merge everything"
              % (name, count, "" if count == 1 else "s"), file=sys.stderr)
        return 2
    checks = "firmware checks" + ("" if result.notes else " and JSON Schema")
    more = "" if not result.warnings else ", %d warning%s" % (len(result.warnings),
                                                               "" if len(result.warnings) == 1 else "s")
    print("%s: valid (%s)%s" % (name, checks, more))
    return 0
