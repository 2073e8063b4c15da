"""Import firmware modules on the host (they need ``micropython.const``, as on the board)."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _ensure_micropython():
    if "micropython" not in sys.modules:
        import types

        mod = types.ModuleType("micropython")
        mod.const = lambda x: x
        sys.modules["micropython"] = mod
    if str(REPO) not in sys.path:
        sys.path.append(str(REPO))  # appended: code.py must not shadow the stdlib module


def firmware_module(name):
    _ensure_micropython()
    import importlib

    return importlib.import_module("firmware." + name)


def config_errors(text):
    """The firmware's own verdict on a config text: [] when the box would accept it."""
    config = firmware_module("config")
    _, errors = config.load(text)
    return errors
