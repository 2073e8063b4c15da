"""``python -m host_tools validate CONFIG``: check a config.json as the box would, and against
the JSON Schema.

Two independent checkers judge the file:

- the firmware's own checker (``firmware/config.py`` loaded on the host through
  ``host_tools.fwimport``): exactly what the box prints on its serial console at boot;
- the JSON Schema ``config.schema.json`` at the repository root (when it exists; without it
  that half is skipped with a note).

Every error names its key path (``presets[0].routes[1].to[0]: ...``). Exit status 0 when both
accept the file, 2 otherwise (or when the file cannot be read). ``host_tools.flash`` calls
``check_text`` before it writes a config to a drive.
"""

import argparse
import json
import sys

from host_tools import fwimport

SCHEMA = fwimport.REPO / "config.schema.json"


class ValidationSetupError(Exception):
    """The schema itself cannot be used (unreadable, not JSON, not a valid JSON Schema)."""


def firmware_errors(text):
    """The firmware's verdict: [] when the box would accept ``text``."""
    return list(fwimport.config_errors(text))


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
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as e:
        raise ValidationSetupError("%s: not a valid JSON Schema (%s)" % (schema_path, e.message)) from None
    return schema


def schema_errors(text, schema):
    """Errors of ``text`` against ``schema`` (a dict), sorted by key path. Text that is not JSON
    gives [] here: the firmware checker reports it."""
    import jsonschema

    try:
        data = json.loads(text)
    except ValueError:
        return []
    validator = jsonschema.validators.validator_for(schema)(schema)
    found = sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return ["%s: %s" % (key_path(e.absolute_path), e.message) for e in found]


def check_text(text, schema_path=SCHEMA):
    """``(errors, notes)``: errors are ``"<key path>: <reason> [firmware|schema]"`` lines."""
    notes = []
    errors = ["%s [firmware]" % e for e in firmware_errors(text)]
    schema = load_schema(schema_path)
    if schema is None:
        notes.append("%s not found: JSON Schema check skipped (firmware checks only)" % schema_path)
    else:
        errors += ["%s [schema]" % e for e in schema_errors(text, schema)]
    return errors, notes


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m host_tools validate",
        description="Check a config.json with the firmware's checker and the JSON Schema.",
    )
    p.add_argument("config", metavar="CONFIG", help="the config.json to check")
    p.add_argument("--schema", default=str(SCHEMA), help="JSON Schema to use (default: config.schema.json)")
    return p


def main(argv):
    args = _parser().parse_args(argv)
    try:
        with open(args.config, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        print("error: %s: cannot read (%s)" % (args.config, e.strerror), file=sys.stderr)
        return 2
    except UnicodeDecodeError as e:
        print("error: %s: not UTF-8 text (%s)" % (args.config, e.reason), file=sys.stderr)
        return 2
    try:
        errors, notes = check_text(text, args.schema)
    except ValidationSetupError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    for note in notes:
        print("note: %s" % note)
    if errors:
        for err in errors:
            print("error: %s: %s" % (args.config, err), file=sys.stderr)
        print("%s: %d error%s: the box would ignore this file and merge everything"
              % (args.config, len(errors), "" if len(errors) == 1 else "s"), file=sys.stderr)
        return 2
    checks = "firmware checks" + ("" if notes else " and JSON Schema")
    print("%s: valid (%s)" % (args.config, checks))
    return 0
