"""``python -m host_tools vcd DIR``: the wires in the VCD decode back to the bytes of <port>.txt.

The UART decoder here is written apart from the encoder in host_tools/vcd.py: it finds each
falling edge on an idle-high line and samples the middle of every bit. sigrok-cli's uart + midi
decoders (Debian package sigrok-cli; what PulseView uses) check the same file when installed.
"""

import csv
import shutil
import subprocess

import pytest

from host_tools import midiwire, vcd
from host_tools.__main__ import main

SESSION = """# channel 1 (CV voice 1) with running status, a clock inside a note, drums, SysEx
1 90 3C 64 3E 64
3 F8
5 91 40
5.5 F8
6 70
10 99 24 7F
12 F0 7E 7F 06 01 F7
20 80 3C 40 3E 40
25 89 24 40
"""
NOISE_IN = "0 90 30 60\n"


def run_sim(tmp_path, session=SESSION, name="in1"):
    src = tmp_path / "session.txt"
    src.write_text(session)
    out = tmp_path / "out"
    assert main(["sim", "--no-plot", "--in", "%s=%s" % (name, src), "--out", str(out)]) == 0
    return out, src


def parse_vcd(text):
    """{name: [(time, value)]} (value an int for wires, a float for reals), and the comment."""
    ids, changes, t = {}, {}, 0
    comment = ""
    lines = iter(text.splitlines())
    for line in lines:
        fields = line.split()
        if fields[:1] == ["$comment"]:
            comment = line
        if fields[:1] == ["$var"]:
            ids[fields[3]] = fields[4]
            changes[fields[4]] = []
        if fields[:1] == ["$enddefinitions"]:
            break
    for line in lines:
        line = line.strip()
        if not line or line.startswith("$"):
            continue
        if line[0] == "#":
            t = int(line[1:])
        elif line[0] in "rR":
            value, ident = line[1:].split()
            changes[ids[ident]].append((t, float(value)))
        elif line[0] in "01":
            changes[ids[line[1:]]].append((t, int(line[0])))
    return changes, comment


def uart_decode(changes):
    """[(time_us, level)] of an idle-high wire -> [(end of stop bit, byte)]."""

    def level_at(t):
        v = 1
        for when, level in changes:
            if when > t:
                break
            v = level
        return v

    out = []
    ready = 0  # a start bit may begin at or after this time
    for when, level in changes:
        if level != 0 or when < ready or level_at(when - 1) != 1:
            continue
        bits = [level_at(when + 16 + 32 * k) for k in range(10)]
        assert bits[0] == 0 and bits[9] == 1, "framing error at %d us" % when
        out.append((when + 320, sum(b << i for i, b in enumerate(bits[1:9]))))
        ready = when + 9 * 32 + 16
    return out


def wire_file(path):
    return [((t + 500) // 1000, b) for t, data in midiwire.parse_timed_text(path.read_text()) for b in data]


def test_wires_decode_back_to_the_wire_files(tmp_path, capsys):
    out, src = run_sim(tmp_path)
    assert main(["vcd", str(out), "--in", "in1=%s" % src]) == 0
    assert "vcd: out1:" in capsys.readouterr().out  # progress per port
    changes, _ = parse_vcd((out / "signals.vcd").read_text())
    for port in ("out1", "out2", "out3", "out4"):
        expected = wire_file(out / ("%s.txt" % port))
        assert len(expected) > 20
        assert uart_decode(changes[port]) == expected, port
    # The input wire, with the DIN timing the simulator applied to the file.
    from host_tools.sim.wires import din_arrival_times

    arrivals = din_arrival_times(midiwire.parse_timed_text(SESSION))
    assert uart_decode(changes["in1"]) == [((t + 500) // 1000, b) for t, b in arrivals]
    assert "usb" not in changes


def test_signals_are_real_volts_at_their_times(tmp_path):
    out, _ = run_sim(tmp_path)
    assert main(["vcd", str(out), "--out", str(tmp_path / "x.vcd")]) == 0
    changes, _ = parse_vcd((tmp_path / "x.vcd").read_text())
    with open(out / "signals.csv") as f:
        rows = list(csv.DictReader(f))
    final = {}
    for row in rows:
        final[row["signal"]] = float(row["value"])
    moved = [r for r in rows if float(r["time_ms"]) > 0]
    assert {r["signal"] for r in moved} >= {"cv1", "gate1", "mod1", "drum1"}
    for name, value in final.items():
        assert changes[name], name
        assert changes[name][-1][1] == pytest.approx(value), name
    for row in moved:
        t = round(float(row["time_ms"]) * 1000)
        assert (t, pytest.approx(float(row["value"]))) in changes[row["signal"]], row


def test_an_input_at_time_zero_shifts_the_file_and_says_so(tmp_path):
    out, src = run_sim(tmp_path, session=NOISE_IN)
    assert main(["vcd", str(out), "--in", "in1=%s" % src]) == 0
    changes, comment = parse_vcd((out / "signals.vcd").read_text())
    assert "time 0 of the run is at 1000 us" in comment
    decoded = uart_decode(changes["in1"])
    assert [(t - vcd.SHIFT_US, b) for t, b in decoded] == [(0, 0x90), (320, 0x30), (640, 0x60)]
    assert [(t - vcd.SHIFT_US, b) for t, b in uart_decode(changes["out1"])] == wire_file(out / "out1.txt")


def test_uart_frame_of_one_byte():
    # 0x41 = 0100 0001: start 0, bits LSB first 1 0 0 0 0 0 1 0, stop 1; ends at 1000 us.
    levels = vcd.uart_levels([(1000, 0x41)])
    assert levels == [(680, 0), (712, 1), (744, 0), (904, 1), (936, 0), (968, 1)]


@pytest.mark.parametrize("content,fragment", [
    (None, "not a directory"),
    ("", "not a simulator output directory"),
    ("0 90\n0.1 3C\n", "starts before the previous byte ended"),
    ("0 9G\n", "not a hex byte"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, content, fragment):
    d = tmp_path / "d"
    if content is not None:
        d.mkdir()
        if content:
            (d / "out1.txt").write_text(content)
    assert main(["vcd", str(d)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err


def test_sigrok_decodes_the_vcd(tmp_path):
    """sigrok-cli's uart + midi decoders read the wires of the file (PulseView uses the same)."""
    sigrok = shutil.which("sigrok-cli")
    if not sigrok:
        pytest.skip("sigrok-cli is not installed (Debian package sigrok-cli; `apt-get install sigrok-cli`): "
                    "the VCD is checked by this file's own UART decoder only")
    out, _ = run_sim(tmp_path)
    assert main(["vcd", str(out)]) == 0
    proc = subprocess.run([sigrok, "-I", "vcd", "-i", str(out / "signals.vcd"), "-P",
                           "uart:rx=out2:baudrate=31250", "-A", "uart=rx-data", "--protocol-decoder-samplenum"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = []
    for line in proc.stdout.splitlines():
        span, _, value = line.split()
        # sigrok marks the data bits: the first starts one bit after the start bit, the last ends
        # where the stop bit starts. One sample a microsecond (timescale 1 us).
        last = int(span.split("-")[1])
        got.append((last + 32, int(value, 16)))
    assert got == wire_file(out / "out2.txt")
    proc = subprocess.run([sigrok, "-I", "vcd", "-i", str(out / "signals.vcd"), "-P",
                           "uart:rx=out3:baudrate=31250,midi", "-A", "midi"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    msgs, _ = midiwire.decode([(t, b) for t, b in wire_file(out / "out3.txt")])
    notes = [m for m in msgs if m.kind() == "note"]
    assert proc.stdout.count("note on") + proc.stdout.count("note off") == len(notes)
    assert proc.stdout.count("timing clock") == sum(1 for m in msgs if m.data == b"\xf8")
    assert proc.stdout.lower().count("system exclusive") == sum(1 for m in msgs if m.kind() == "sysex") == 1
