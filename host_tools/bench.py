"""``python -m host_tools bench``: cost per MIDI byte of the firmware path, as a ratio to a bare
read/write loop in the same run, on CPython and on the MicroPython VM (tests/mpvm), and bytes
allocated per message. Prints a table; asserts nothing (tests assert behaviour, not time)."""

import sys
from pathlib import Path

from host_tools import fwimport

REPO = Path(__file__).resolve().parents[1]
NOTES = 300  # 300 x 12 bytes = 3,600 bytes a run
REPEATS = 5

VM_SCRIPT = """
import bench_paths as b
data = b.mixed_stream(0, %(notes)d)
for chunk in (1, 64):
    best_bare = best_full = None
    for _ in range(%(repeats)d):
        t, n = b.bare(data, chunk)
        best_bare = t if best_bare is None or t < best_bare else best_bare
        t, n2 = b.full_path(data, chunk)
        best_full = t if best_full is None or t < best_full else best_full
    print("RESULT", chunk, len(data), best_bare, best_full, n, n2)
print("ALLOCFULL", b.full_path_alloc(data, 1))
try:
    t, n, m = b.adafruit_midi_path(data, 64)
    a = b.alloc_per_message(b.adafruit_midi_path, data, 64)
    print("ADAFRUIT", t, n, m, a)
except ImportError as e:
    print("ADAFRUIT_MISSING", e)
"""


def _cpython():
    fwimport._ensure_micropython()
    sys.path.insert(0, str(REPO / "host_tools"))  # bench_paths imports scripted_ports as in the VM
    import bench_paths as b

    data = b.mixed_stream(0, NOTES)
    rows = []
    for chunk in (1, 64):
        bare = min(b.bare(data, chunk)[0] for _ in range(REPEATS))
        full = min(b.full_path(data, chunk)[0] for _ in range(REPEATS))
        rows.append((chunk, len(data), bare, full))
    t, n, m = b.adafruit_midi_path(data, 64)
    return rows, (t, n, m)


def _vm():
    sys.path.insert(0, str(REPO / "tests"))
    import mpvm

    files = mpvm.firmware_files()
    files["/fw/bench_paths.py"] = (REPO / "host_tools" / "bench_paths.py").read_text()
    files["/fw/scripted_ports.py"] = (REPO / "host_tools" / "scripted_ports.py").read_text()
    site = Path(__import__("adafruit_midi").__file__).parent
    for p in site.glob("*.py"):
        files["/fw/adafruit_midi/%s" % p.name] = p.read_text()
    out = mpvm.run(VM_SCRIPT % {"notes": NOTES, "repeats": REPEATS}, files=files, timeout=300, import_guard=False)
    rows, alloc, ada = [], None, None
    for line in out.splitlines():
        f = line.split()
        if f[0] == "RESULT":
            rows.append((int(f[1]), int(f[2]), int(f[3]), int(f[4])))
        elif f[0] == "ALLOCFULL":
            alloc = int(f[1])
        elif f[0] == "ADAFRUIT":
            ada = tuple(int(x) for x in f[1:5])
    return rows, alloc, ada


def main(argv):
    messages = NOTES * 5  # note-on, note-off (running status), CC, bend, clock
    print("Thruway bench: the firmware byte path vs a bare read/write loop, same stream, same run")
    print("stream: %d messages, %d bytes (notes with running status, CC, pitch bend, clock)" % (messages, NOTES * 12))
    print("path: Box.step, default config: 5 inputs polled, every message parsed, routed and sent to 5 outputs;")
    print("bare: the same 5 inputs polled, each read written straight to the same 5 outputs, no parsing")
    print()
    print("%-22s %6s %12s %12s %7s" % ("interpreter", "batch", "bare us/B", "path us/B", "ratio"))
    rows, ada = _cpython()
    for chunk, nbytes, bare, full in rows:
        print("%-22s %6d %12.3f %12.3f %7.2f" % ("CPython %d.%d" % sys.version_info[:2], chunk, bare / nbytes,
                                                full / nbytes, full / bare))
    vm_rows, alloc, vm_ada = _vm()
    for chunk, nbytes, bare, full in vm_rows:
        print("%-22s %6d %12.3f %12.3f %7.2f" % ("MicroPython VM (node)", chunk, bare / nbytes, full / nbytes,
                                                full / bare))
    print()
    print("bytes allocated per message, firmware path (MicroPython VM): %.2f (%d bytes over %d messages)"
          % (alloc / messages, alloc, messages))
    print()
    print("for comparison, adafruit_midi 1.6 receive() + send() on the same stream (batch 64):")
    t, n, m = ada
    print("  CPython:        %.3f us/B, %d of %d messages came out" % (t / (NOTES * 12), m, messages))
    if vm_ada:
        t, n, m, a = vm_ada
        print("  MicroPython VM: %.3f us/B, %d of %d messages came out, %.0f bytes allocated per message"
              % (t / (NOTES * 12), m, messages, a / max(m, 1)))
    print()
    print("Pico estimate: a minimal parser costs ~36 us/B on the board (docs/design.md), about 38x")
    print("the VM; the ratio column is the figure to trust (target <= 1.5x at full rate).")
    print()
    from host_tools import bench_clock

    bench_clock.main()
    print()
    from host_tools import bench_cv

    bench_cv.main()
    print()
    from host_tools import bench_board

    bench_board.main()
    print()
    from host_tools import bench_verdict

    bench_verdict.main()
    print()
    from host_tools import bench_chords

    bench_chords.main([])  # the CV chords beside a controller lane: about 30 s
    print()
    from host_tools import bench_full_rate

    bench_full_rate.main([])  # the demo, 60 s at full rate, a USB burst, two SysEx, the busy rig: about 10 minutes
    return 0
