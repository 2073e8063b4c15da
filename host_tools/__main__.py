"""``python -m host_tools <command>``: the host-side tools."""

import sys

COMMANDS = {
    "sim": ("host_tools.sim.cli", "run the firmware on simulated hardware"),
    "bench": ("host_tools.bench", "cost per MIDI byte of the firmware path"),
    "heap": ("host_tools.heap", "where the box's heap goes: per module and per table (MicroPython VM)"),
    "pinmap": ("host_tools.pinmap", "generate or check firmware/pinmap.py from hardware/pinmap.json"),
    "flash": ("host_tools.flash", "install the firmware and its libraries on a CIRCUITPY drive"),
    "validate": ("host_tools.validate", "check a config.json (firmware checker + JSON Schema)"),
    "bridge": ("host_tools.bridge", "run the box on this computer between real MIDI ports"),
    "plot": ("host_tools.plot", "PNG of the signals and MIDI activity of a sim output directory"),
    "vcd": ("host_tools.vcd", "VCD (GTKWave, PulseView) of a sim output directory"),
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
