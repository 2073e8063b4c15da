"""``python -m host_tools <command>``: the host-side tools."""

import sys

COMMANDS = {
    "sim": ("host_tools.sim.cli", "run the firmware on simulated hardware"),
    "bench": ("host_tools.bench", "cost per MIDI byte of the firmware path"),
    "pinmap": ("host_tools.pinmap", "generate or check firmware/pinmap.py from hardware/pinmap.json"),
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: python -m host_tools <command> [options]\n\ncommands:")
        for name, (_, text) in COMMANDS.items():
            print("  %-8s %s" % (name, text))
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    import importlib

    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
