"""The full-rate load session (issue 14): every input of the box busy at once, seeded.

Each DIN input (``in1``, ``in2`` on the hardware UARTs; ``in3``, ``in4`` on PIO) runs at full
rate: a byte ends every 320 us, with no gap, for the whole session. ``in1`` and ``in2`` carry the
seeds' demo (``make demo``'s inputs: examples/demo/keystep.txt on ``in1``, digitakt.txt on
``in2``, the clock master at 120 BPM, 24 ppqn, with its Start and Stop), repeated for the
session, and the gaps between its messages are filled with dense notes and controllers on a
channel of their own; ``in3`` and ``in4`` carry only that filler, and so does ``usb``, at the DIN
wire's rate (a whole 3-byte message every 0.96 ms). A demo message keeps its bytes and its
channel; its running status is restated (the filler comes between), and it waits for the
filler message on the wire to end (its first byte ends less than a 3-byte message time, 0.96 ms,
late: a master's clock on a busy wire).

The filler, per input, from one ``random.Random(seed)``: a note-on (any key of 24 to 107,
velocity 1 to 127) and its note-off follow each other with controllers (mod wheel, expression,
cutoff, any value) in between, so a note is held for one to three messages and an input never
owes more than one note-off.

``python -m host_tools.dense_streams --seconds 2 --out DIR`` writes the session as the
simulator's input files (``<port>.txt``), for ``sim --engine board`` or ``--engine sim``.
"""

import argparse
import os
import random

from host_tools import midiwire
from host_tools.figures import NS_PER_MS
from host_tools.sim import runner
from host_tools.sim.wires import BYTE_NS

SEED = 14
# The demo repeats: its longest file (digitakt.txt: Start at 99 ms, Stop at 4,102 ms), then a
# bar of silence from the master (the next Start comes 197 ms after the Stop).
DEMO = {"in1": ("keystep", 3200), "in2": ("digitakt", 4200)}
# The filler's MIDI channel per input (0-based: channel 3 on in1 ... channel 7 on usb). The demo
# plays channels 1, 2 and 10; the default CV voices take channels 1-4, so in1's and in2's filler
# notes drive CV voices 3 and 4 (DAC writes) as well.
FILLER_CHANNEL = {"in1": 2, "in2": 3, "in3": 4, "in4": 5, "usb": 6}
CONTROLLERS = (1, 11, 74)  # mod wheel, expression, cutoff
START_NS = 1 * NS_PER_MS  # the first byte ends 1 ms into the session
# The USB burst (usb_burst_session).
BURST_AT_MS = 500
BURST_NOTES = 300
BURST_DEMO_MS = 1800
BURST_SYSEX = bytes([0xF0, 0x7D] + [k % 128 for k in range(256)] + [0xF7])  # non-commercial ID
DIN_SYSEX = bytes([0xF0, 0x7D] + [k % 128 for k in range(1000)] + [0xF7])  # din_sysex_session


def demo_messages(port, duration_ns):
    """The demo file of ``port`` as whole messages [(time ns, bytes)], repeated to ``duration_ns``."""
    name, period_ms = DEMO[port]
    path = runner.REPO / "examples" / "demo" / (name + ".txt")
    lines = midiwire.parse_timed_text(path.read_text(), str(path))
    # Each line's bytes end one byte time apart on the wire (the simulator contract).
    messages, problems = midiwire.decode([(t + k * BYTE_NS, b) for t, data in lines for k, b in enumerate(data)])
    assert not problems, problems
    out = []
    base = 0
    while True:
        for m in messages:
            t = base + m.start_ns
            if t >= duration_ns:
                return out
            out.append((t, m.data))
        base += period_ms * NS_PER_MS


class Filler:
    """Dense channel messages on one channel: notes paired with their offs, controllers between."""

    def __init__(self, rng, channel):
        self.rng = rng
        self.channel = channel
        self.held = None  # the key of the note sounding, if any

    def next(self):
        rng = self.rng
        if rng.random() < 0.4:
            return bytes((0xB0 | self.channel, rng.choice(CONTROLLERS), rng.randrange(128)))
        if self.held is None:
            self.held = rng.randrange(24, 108)
            return bytes((0x90 | self.channel, self.held, rng.randrange(1, 128)))
        key, self.held = self.held, None
        return bytes((0x80 | self.channel, key, 0x40))


def full_rate(rng, channel, duration_ns, seeded=(), start_ns=START_NS, load=1.0):
    """Lines [(time ns of the first byte's end, message)] that keep a DIN wire busy: back to
    back, each message starting as the previous one ends. ``seeded`` [(time ns, message)] go
    out whole at their time, or as soon as the message on the wire ends; filler fills the rest.
    ``load`` below 1: the share of the wire's time the messages take (a gap after each)."""
    filler = Filler(rng, channel)
    lines = []
    seeded = list(seeded)
    k = 0
    t = start_ns  # the end of the next byte on the wire
    while t < duration_ns:
        if k < len(seeded) and seeded[k][0] <= t:
            data = seeded[k][1]
            k += 1
        else:
            data = filler.next()
        lines.append((t, data))
        t += round(len(data) * BYTE_NS / load)
    return lines


def session(duration_ms, seed=SEED, load=1.0):
    """(config text, inputs, events, until_ms) of the full-rate session: the default config
    (every input merged to every output), inputs for ``duration_ms``, no button, run to the end
    (the board engine runs on until the outputs are idle). ``load``: see ``full_rate``."""
    rng = random.Random(seed)
    duration_ns = int(duration_ms * NS_PER_MS)
    inputs = {}
    for port in ("in1", "in2", "in3", "in4", "usb"):
        seeded = demo_messages(port, duration_ns) if port in DEMO else ()
        inputs[port] = full_rate(rng, FILLER_CHANNEL[port], duration_ns, seeded, load=load)
    config = (runner.REPO / "config.json").read_text()
    return config, inputs, [], None


def _demo_start():
    """(config text, inputs, events) of the demo's first ``BURST_DEMO_MS``: what the burst
    sessions play beside."""
    from host_tools import calibration

    config, demo, events, _ = calibration.demo_stream()
    inputs = {port: [(t, data) for t, data in lines if t < BURST_DEMO_MS * NS_PER_MS] for port, lines in demo.items()}
    return config, inputs, events


def usb_burst_session():
    """(config text, inputs, events, until_ms) of the USB burst: the demo's first
    ``BURST_DEMO_MS``, and ``BURST_NOTES`` notes (on, then off) over USB at ``BURST_AT_MS``, 1 us
    apart, then ``BURST_SYSEX`` (a patch dump): a computer sends as fast as the box reads (a DAW
    starting a dense clip). The DIN outputs carry them at their wire's rate while the demo's
    clock keeps its place."""
    config, inputs, events = _demo_start()
    inputs["usb"] = [(BURST_AT_MS * NS_PER_MS + k * 1000, bytes((0x90 | FILLER_CHANNEL["usb"], 40 + k // 2 % 48, 100 if k % 2 == 0 else 0)))
                     for k in range(2 * BURST_NOTES)]
    inputs["usb"].append((BURST_AT_MS * NS_PER_MS + 2 * BURST_NOTES * 1000, BURST_SYSEX))
    return config, inputs, events, None


def din_sysex_session():
    """(config text, inputs, events, until_ms) of a DIN SysEx while the demo plays: its first
    ``BURST_DEMO_MS``, and ``DIN_SYSEX`` on ``in3`` (a PIO input) at ``BURST_AT_MS`` (a sound
    sent to a synth from an editor while a sequencer plays), 321 ms on the wire. It holds every
    output while it streams; the demo's clock keeps its place, its other messages wait."""
    config, inputs, events = _demo_start()
    inputs["in3"] = [(BURST_AT_MS * NS_PER_MS, DIN_SYSEX)]
    return config, inputs, events, None


def usb_sysex_session():
    """(config text, inputs, events, until_ms) of a USB SysEx while the demo plays: its first
    ``BURST_DEMO_MS``, and ``DIN_SYSEX``'s bytes from the computer at ``BURST_AT_MS`` (an
    editor sending a sound while a sequencer plays). The box reads USB a message a pass; the
    SysEx holds every output while it streams, and the demo's inputs wait."""
    config, inputs, events = _demo_start()
    inputs["usb"] = [(BURST_AT_MS * NS_PER_MS, DIN_SYSEX)]
    return config, inputs, events, None


def write_inputs(inputs, out_dir):
    """The session's inputs as the simulator's input files, one message a line."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for port, lines in inputs.items():
        path = os.path.join(out_dir, port + ".txt")
        with open(path, "w") as f:
            f.write("# %s: the full-rate session (host_tools/dense_streams.py)\n" % port)
            for t, data in lines:
                f.write("%s %s\n" % (midiwire.format_time_ns(t), " ".join("%02X" % b for b in data)))
        paths[port] = path
    return paths


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m host_tools.dense_streams", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--load", type=float, default=1.0, help="share of each wire's time its messages take (1: no gap)")
    ap.add_argument("--out", required=True, help="directory for in1.txt ... usb.txt")
    args = ap.parse_args(argv)
    _, inputs, _, _ = session(args.seconds * 1000, args.seed, args.load)
    for port, path in write_inputs(inputs, args.out).items():
        print("%s: %s (%d messages)" % (port, path, len(inputs[port])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
