"""Write the bundled demo session (examples/demo/*.txt), modelled on the seeds' setups.

in1: an Arturia KeyStep played by hand on channel 1: a short phrase with running status
     (note-off as note-on velocity 0), a mod-wheel sweep (CC 1) and a pitch-bend gesture.
in2: an Elektron Digitakt as clock master at 120 BPM: Start, 24 PPQN clock, a 16th-note
     sequence on channel 2 (bass) and channel 10 (drums, notes 36-43), then Stop.

Run ``python examples/make_demo.py`` to regenerate; the files are committed so the demo needs
no generation step.
"""

from pathlib import Path

OUT = Path(__file__).resolve().parent / "demo"
BPM = 120.0
TICK_MS = 60000.0 / BPM / 24  # 20.833 ms


def keystep():
    lines = ["# KeyStep on in1, channel 1: a phrase, a mod-wheel sweep and a pitch bend, sent with"
             " running status (note-off as note-on velocity 0) as the KeyStep does"]
    events = []
    t = 250.0
    for note, length in ((60, 300), (64, 300), (67, 300), (72, 600), (67, 250), (64, 250), (60, 700)):
        events.append((t, 0x90, note, 0x64))
        events.append((t + length - 20, 0x90, note, 0x00))
        t += length
    for k, value in enumerate(range(0, 128, 16)):
        events.append((905.0 + k * 30, 0xB0, 1, value))
    for k, bend in enumerate((8192, 10240, 12288, 14336, 12288, 10240, 8192)):
        events.append((1605.0 + k * 40, 0xE0, bend & 0x7F, bend >> 7))
    events.sort(key=lambda e: e[0])
    running = None
    for t, status, d1, d2 in events:
        head = "" if status == running else "%02X " % status
        running = status
        lines.append("%.3f %s%02X %02X" % (t, head, d1, d2))
    return lines


def digitakt():
    lines = ["# Digitakt on in2: clock master at 120 BPM, Start, sequence on ch 2 and ch 10, Stop"]
    events = []
    start_ms = 100.0
    ticks = 24 * 8  # two bars of 4/4
    events.append((start_ms - 1.0, "FA"))
    for k in range(ticks + 1):
        t = start_ms + k * TICK_MS
        events.append((t, "F8"))
    bass = [36, 36, 48, 36, 39, 36, 48, 43]
    for step in range(32):  # 16th notes: every 6 ticks
        t = start_ms + step * 6 * TICK_MS + 0.5
        note = bass[step % len(bass)]
        events.append((t, "91 %02X 70" % note))
        events.append((t + 3 * TICK_MS, "81 %02X 40" % note))
        if step % 4 == 0:
            events.append((t + 0.1, "99 24 7F"))  # kick (drum1)
            events.append((t + 10.0, "89 24 40"))
        if step % 8 == 4:
            events.append((t + 0.1, "99 26 64"))  # snare (drum3)
            events.append((t + 10.0, "89 26 40"))
        if step % 2 == 1:
            events.append((t + 0.1, "99 2A 50"))  # closed hat (drum7)
            events.append((t + 10.0, "89 2A 40"))
    events.append((start_ms + ticks * TICK_MS + 2.0, "FC"))
    events.sort(key=lambda e: e[0])
    lines.extend("%.3f %s" % e for e in events)
    return lines


def main():
    OUT.mkdir(exist_ok=True)
    (OUT / "keystep.txt").write_text("\n".join(keystep()) + "\n")
    (OUT / "digitakt.txt").write_text("\n".join(digitakt()) + "\n")


if __name__ == "__main__":
    main()
