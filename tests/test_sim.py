"""The simulator contract (docs/design.md, "The simulator contract") through the real command line."""

import json
import os
import subprocess
import sys

import pytest

from host_tools import midiwire
from host_tools.sim import wires

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
BYTE_MS = 0.32


def sim(tmp_path, *args, expect=0):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "host_tools", "sim", "--no-plot", "--out", str(out)] + [str(a) for a in args]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == expect, proc.stderr + proc.stdout
    return out, proc


def wire(path):
    """[(time_ms, byte)] of an output .txt file."""
    return [(t / 1e6, b) for t, data in midiwire.parse_timed_text(path.read_text()) for b in data]


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_note_reaches_every_output_after_it_arrived(tmp_path):
    note = write(tmp_path, "note.txt", "0 90 3C 64\n")
    # The calls model: the latency bound below is its arithmetic (mean pass times three).
    out, proc = sim(tmp_path, "--cost-model", "calls", "--in", "in1=%s" % note)
    summary = json.loads((out / "summary.json").read_text())
    loop_ms = summary["loop"]["mean_period_ms"]
    for port in ("out1", "out2", "out3", "out4"):
        got = wire(out / ("%s.txt" % port))
        assert [b for _, b in got] == [0x90, 0x3C, 0x64], port
        times = [t for t, _ in got]
        # The note has fully arrived at 0.64 ms (three bytes, the first ends at 0); the box
        # forwards whole messages, so the first byte cannot leave before then, and each byte
        # takes 0.32 ms on the wire.
        assert times[0] >= 0.64 + BYTE_MS
        assert all(b - a >= BYTE_MS - 1e-9 for a, b in zip(times, times[1:]))
        # Added latency: one message time plus the pass that read it and the passes around it.
        assert times[-1] - 0.64 <= 0.96 + 3 * loop_ms, (port, times, loop_ms)
    assert [b for _, b in wire(out / "usb.txt")] == [0x90, 0x3C, 0x64]
    assert summary["ports"]["in1"]["messages"] == 1
    assert summary["ports"]["out1"]["messages"] == 1
    assert summary["latency_ms"]["note"]["count"] == 5
    assert "ports" in summary and set(summary["ports"]["out1"]) >= {"bytes", "messages", "dropped", "coalesced"}


def test_added_latency_at_idle_meets_the_targets(tmp_path):
    # Notes and clock bytes one at a time, 10.037 ms apart so they land at every phase of the
    # main loop; the default config also plays them on CV voice 1 (I2C writes lengthen passes).
    # The calls model, whose arithmetic these bounds are (the board's longest pass against
    # issue 14's 1 ms is test_board_speed.py's figure).
    lines = []
    for k in range(40):
        t = 10 + k * 10.037
        lines.append("%.3f F8" % t if k % 2 else "%.3f 90 %02X 64" % (t, 40 + k))
    stream = write(tmp_path, "idle.txt", "\n".join(lines) + "\n")
    out, _ = sim(tmp_path, "--cost-model", "calls", "--in", "in1=%s" % stream)
    summary = json.loads((out / "summary.json").read_text())
    idle = summary["latency_idle_ms"]
    loop_ms = summary["loop"]["max_period_ms"]
    assert idle["clock"]["count"] == 100 and idle["note"]["count"] == 100  # 20 each on 5 outputs
    # A clock byte: at most one byte time plus one loop period; a note: one message time plus
    # one loop period (the longest pass: a byte may arrive just after its input was read).
    assert idle["clock"]["max"] <= BYTE_MS + loop_ms, (idle, loop_ms)
    assert idle["note"]["max"] <= 3 * BYTE_MS + loop_ms, (idle, loop_ms)
    assert loop_ms < 1.0  # and the longest pass stays well under a millisecond


def test_outputs_of_section_7_are_written(tmp_path):
    note = write(tmp_path, "note.txt", "0 90 3C 64\n5 80 3C 40\n")
    out, _ = sim(tmp_path, "--in", "in2=%s" % note)
    for port in ("out1", "out2", "out3", "out4", "usb"):
        assert (out / ("%s.txt" % port)).exists()
        assert (out / ("%s.mid" % port)).exists()
    import mido

    msgs = [m for m in mido.MidiFile(str(out / "out3.mid")) if not m.is_meta]
    assert [m.type for m in msgs] == ["note_on", "note_off"]
    rows = (out / "signals.csv").read_text().splitlines()
    assert rows[0] == "time_ms,signal,value"
    names = [r.split(",")[1] for r in rows[1:] if r.startswith("0.000,")]
    for name in ["cv1", "mod4", "gate1", "drum8", "clock", "reset"]:
        assert name in names


def test_same_inputs_give_identical_outputs(tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    args = ["--in", "in1=%s" % (ROOT / "examples/demo/keystep.txt"), "--in",
            "in2=%s" % (ROOT / "examples/demo/digitakt.txt"), "--until", "1500"]
    out_a, _ = sim(a, *args)
    out_b, _ = sim(b, *args)
    for name in ("out1.txt", "out4.txt", "usb.txt", "signals.csv", "summary.json", "out2.mid"):
        assert (out_a / name).read_bytes() == (out_b / name).read_bytes(), name


def test_until_cuts_bytes_not_yet_arrived(tmp_path):
    note = write(tmp_path, "note.txt", "0 90 3C 64\n")
    out, _ = sim(tmp_path, "--in", "in1=%s" % note, "--until", "1.5")
    got = wire(out / "out1.txt")
    assert got and all(t <= 1.5 for t, _ in got)
    assert len(got) < 3


def test_output_fed_back_as_input_reproduces_the_wire(tmp_path):
    note = write(tmp_path, "seq.txt", "0 90 3C 64\n0 90 3E 64\n3 F8\n10 80 3C 40 3E 40\n")
    out, _ = sim(tmp_path, "--in", "in1=%s" % note)
    lines = midiwire.parse_timed_text((out / "out1.txt").read_text())
    recorded = [(t, d[0]) for t, d in lines]
    assert wires.din_arrival_times(lines) == recorded


def test_usb_line_bytes_arrive_together_and_are_not_echoed(tmp_path):
    note = write(tmp_path, "usb.txt", "2 90 3C 64\n")
    out, _ = sim(tmp_path, "--in", "usb=%s" % note)
    assert wire(out / "usb.txt") == []
    got = wire(out / "out1.txt")
    assert [b for _, b in got] == [0x90, 0x3C, 0x64]
    assert got[0][0] >= 2.0 + BYTE_MS


def test_smf_input(tmp_path):
    import mido

    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.Message("note_on", note=60, velocity=100, time=0))
    track.append(mido.Message("note_off", note=60, velocity=0, time=480))  # 0.5 s at 120 BPM
    path = tmp_path / "in.mid"
    mid.save(str(path))
    out, _ = sim(tmp_path, "--in", "in3=%s" % path)
    msgs, problems = midiwire.decode([(t, b) for t, data in midiwire.parse_timed_text((out / "out2.txt").read_text()) for b in data])
    assert not problems
    assert [m.data for m in msgs] == [bytes([0x90, 60, 100]), bytes([0x80, 60, 0])]
    assert 500 < msgs[1].time_ns / 1e6 < 502


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--in", "in9=x.txt"], "unknown input port 'in9'"),
        (["--in", "in1"], "expected PORT=FILE"),
        (["--in", "in1=/nonexistent/file.txt"], "cannot read"),
        (["--in", "in1=file.wav"], "end in .txt"),
        (["--until", "-5"], "must be >= 0"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, needle):
    _, proc = sim(tmp_path, *args, expect=2)
    assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_bad_timed_bytes_name_file_and_line(tmp_path):
    bad = write(tmp_path, "bad.txt", "# ok\n0 90 3C 64\n1 90 3C 1FF\n")
    _, proc = sim(tmp_path, "--in", "in1=%s" % bad, expect=2)
    assert "bad.txt:3" in proc.stderr and "'1FF'" in proc.stderr


def test_clock_in_file_drives_the_clock_in_master(tmp_path):
    from host_tools import bench_clock

    cfg = write(tmp_path, "c.json", bench_clock.clock_config("clock_in", 120, 4))
    times = [100 + 125 * k for k in range(8)]  # 4 PPQN at 120 BPM
    edges = write(tmp_path, "edges.txt", "# clock-in pulses\n" + "".join("%d\n" % t for t in times))
    # The calls model: "within a pass" below is its mean pass.
    out, _ = sim(tmp_path, "--cost-model", "calls", "--config", cfg, "--clock-in", edges, "--until", 2100)
    got = wire(out / "out1.txt")
    assert [b for _, b in got if b != 0xF8] == [0xFA, 0xFC]  # Start at the first pulse, Stop after 1 s of none
    assert sum(1 for _, b in got if b == 0xF8) == 6 * len(times)
    summary = json.loads((out / "summary.json").read_text())
    loop_ms = summary["loop"]["mean_period_ms"]
    rows = [line.split(",") for line in (out / "signals.csv").read_text().splitlines()[1:]]
    rises = [float(t) for t, name, v in rows if name == "clock" and float(v) > 0]
    assert len(rises) == len(times)
    assert all(0 <= r - t <= loop_ms + 0.05 for r, t in zip(rises, times))  # the jack follows within a pass
    assert summary["clock"]["bpm"] == pytest.approx(120, abs=0.01)


def test_bad_clock_in_file_names_file_and_line(tmp_path):
    bad = write(tmp_path, "edges.txt", "100\n# ok\n90\n")
    _, proc = sim(tmp_path, "--clock-in", bad, expect=2)
    assert "edges.txt:3" in proc.stderr and "increasing" in proc.stderr
    _, proc = sim(tmp_path, "--clock-in", tmp_path / "none.txt", expect=2)
    assert "cannot read" in proc.stderr


def test_bad_event_button(tmp_path):
    ev = write(tmp_path, "ev.txt", "10 press button9\n")
    _, proc = sim(tmp_path, "--events", ev, expect=2)
    assert "unknown button 'button9'" in proc.stderr


def test_invalid_config_exit_2_naming_key(tmp_path):
    cfg = write(tmp_path, "c.json", json.dumps({"presets": [{"routes": [{"from": "in1", "to": ["out9"]}]}]}))
    _, proc = sim(tmp_path, "--config", cfg, expect=2)
    assert "presets[0].routes[0].to[0]: unknown port 'out9'" in proc.stderr


def test_invalid_config_as_device_falls_back_to_merge_all(tmp_path):
    cfg = write(tmp_path, "c.json", "{ not json")
    note = write(tmp_path, "note.txt", "0 90 3C 64\n")
    out, proc = sim(tmp_path, "--config", cfg, "--as-device", "--in", "in1=%s" % note)
    assert "not valid JSON" in proc.stderr
    assert [b for _, b in wire(out / "out3.txt")] == [0x90, 0x3C, 0x64]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config_errors"] and "not valid JSON" in summary["config_errors"][0]
    assert cfg.read_text() == "{ not json"  # never rewritten


def test_routes_from_config(tmp_path):
    cfg = write(tmp_path, "c.json", json.dumps({"version": 1, "presets": [{"name": "split", "routes": [
        {"from": "in1", "to": ["out2"], "channels": [1]},
        {"from": "in1", "to": "out3", "kinds": ["clock", "transport"]},
    ]}]}))
    stream = write(tmp_path, "s.txt", "0 90 3C 64\n1 F8\n2 91 3C 64\n")
    out, _ = sim(tmp_path, "--config", cfg, "--in", "in1=%s" % stream)
    assert [b for _, b in wire(out / "out1.txt")] == []
    # A channel filter narrows channel messages only; system messages pass unless "kinds" says.
    assert [b for _, b in wire(out / "out2.txt")] == [0x90, 0x3C, 0x64, 0xF8]
    assert [b for _, b in wire(out / "out3.txt")] == [0xF8]


def test_rx_buffer_overflow_is_counted_not_silent(tmp_path):
    # 600 bytes of SysEx in one burst into a UART whose buffer the firmware sizes at 512: the
    # loop keeps up, so nothing is lost; the counter is there and reads 0.
    body = " ".join("%02X" % (k & 0x7F) for k in range(600))
    sx = write(tmp_path, "sx.txt", "0 F0 %s F7\n" % body)
    out, _ = sim(tmp_path, "--in", "in1=%s" % sx)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ports"]["in1"]["dropped"]["rx_overflow"] == 0
    assert [b for _, b in wire(out / "out2.txt")] == [0xF0] + [k & 0x7F for k in range(600)] + [0xF7]


def test_time_module_is_the_virtual_clock():
    from host_tools.sim import costs, vtime, world

    w = world.install(world.World())
    try:
        t = vtime.make_module(__import__("time"))
        w.charge(5_000_000)
        assert t.monotonic_ns() == 5_000_000  # read before the call is charged
        assert w.now_ns == 5_000_000 + costs.MONOTONIC_NS
        t.sleep(0.25)
        assert w.now_ns == 255_000_000 + costs.MONOTONIC_NS
        assert abs(t.monotonic() - 0.255) < 1e-3
    finally:
        world.uninstall()


def test_fast_usb_controller_sweep_keeps_slow_din_outputs_busy(tmp_path):
    # A DAW sweeps a filter over USB much faster than a DIN port carries it (36 bytes a ms for
    # 200 ms): the DIN outputs drop nothing, end on the final value, and carry the sweep at
    # their wire's rate while the rest waits at the host (USB's back-pressure). Read 64 bytes a
    # pass, the values made passes so long that each DIN output carried 16 % of what it can.
    lines = ["%d B0 4A %02X B1 07 %02X E2 %02X 40" % (k // 4, k & 0x7F, 127 - (k & 0x7F), k & 0x7F)
             for k in range(800)]
    sweep = write(tmp_path, "sweep.txt", "\n".join(lines) + "\n")
    out, proc = sim(tmp_path, "--in", "usb=%s" % sweep)
    summary = json.loads((out / "summary.json").read_text())
    for port in ("out1", "out2", "out3", "out4"):
        stats = summary["ports"][port]
        assert sum(stats["dropped"].values()) == 0, stats
        assert stats["stream_problems"] == 0
        timed = [(t, b) for t, data in midiwire.parse_timed_text((out / ("%s.txt" % port)).read_text()) for b in data]
        assert len(timed) * wires.BYTE_NS > 0.75 * (timed[-1][0] - timed[0][0])
        msgs, _ = midiwire.decode(timed)
        last = {}
        for m in msgs:
            last[bytes(m.data[:2]) if m.data[0] & 0xF0 == 0xB0 else bytes(m.data[:1])] = bytes(m.data)
        assert last[bytes([0xB0, 0x4A])] == bytes([0xB0, 0x4A, 799 & 0x7F])
        assert last[bytes([0xB1, 0x07])] == bytes([0xB1, 0x07, 127 - (799 & 0x7F)])
        assert last[bytes([0xE2])] == bytes([0xE2, 799 & 0x7F, 0x40])


def test_board_engine_without_its_files_says_what_to_get(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIRCUITPY_")}
    proc = subprocess.run(
        [sys.executable, "-m", "host_tools", "sim", "--engine", "board", "--uf2", str(tmp_path / "none.uf2"),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "circuitpython.org" in lines[0] and "--uf2" in lines[0] and "CIRCUITPY_UF2" in lines[0]


def test_the_uart_receives_as_circuitpython_does():
    # CircuitPython's busio.UART on the RP2040 (host_tools/sim/uart.py, docs/board-engine.md): a
    # byte waits in the hardware FIFO until it holds 4 or 32 bit times pass, and readinto moves
    # the FIFO into the ring only after returning what the ring held. The board engine's clock
    # latency agrees with the simulator's only with this (python -m host_tools calibrate).
    from host_tools.sim import uart, world
    from host_tools.sim.pins import Pin

    world.install(world.World())
    try:
        w = world.current()
        port = uart.UART(rx=Pin("GP1", 1), baudrate=31250, timeout=0)
        buf = bytearray(8)
        port.rx_byte(0xF8, 31250)
        assert port.readinto(buf) is None  # a lone byte: not in the ring yet
        assert port.readinto(buf) == 1 and buf[0] == 0xF8  # the read before moved it
        for b in (0x90, 0x40, 0x7F, 0x80):
            port.rx_byte(b, 31250)
        assert port.readinto(buf) == 4 and bytes(buf[:4]) == bytes([0x90, 0x40, 0x7F, 0x80])  # the interrupt at 4
        port.rx_byte(0xFE, 31250)
        w.advance_to(w.now_ns + 20 * 32_000)
        assert port.readinto(buf) is None  # 20 bit times (and the read's own time): still in the FIFO
        port.rx_byte(0xFA, 31250)
        w.advance_to(w.now_ns + 32 * 32_000)
        assert port.readinto(buf) == 2 and bytes(buf[:2]) == bytes([0xFE, 0xFA])  # the timeout's interrupt
        port.rx_byte(0xFC, 31250)
        assert port.in_waiting == 1  # in_waiting moves the FIFO first
    finally:
        world.uninstall()
