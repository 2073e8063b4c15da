"""The tools that speak MIDI and config in words: ``decode``, ``bridge --monitor/--preset``,
``validate``'s messages and ``explain``."""

import json
from pathlib import Path

import mido
import pytest

from host_tools import bridge, explain, midiwords
from host_tools.__main__ import main

ROOT = Path(__file__).resolve().parents[1]


def wire(path, lines):
    path.write_text("".join("%.3f %s\n" % (t, " ".join("%02X" % b for b in data)) for t, data in lines))
    return path


# -- decode ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data,text", [
    ((0x94, 64, 100), "ch5 Note On E4 vel 100"),
    ((0x90, 60, 0), "ch1 Note Off C4 (Note On vel 0)"),
    ((0x8F, 21, 64), "ch16 Note Off A0 vel 64"),
    ((0xB0, 1, 64), "ch1 CC 1 Mod Wheel = 64"),
    ((0xB2, 64, 127), "ch3 CC 64 Sustain = 127"),
    ((0xB0, 20, 5), "ch1 CC 20 = 5"),
    ((0xE0, 0, 0x40), "ch1 Pitch Bend +0"),
    ((0xE0, 0, 0), "ch1 Pitch Bend -8192"),
    ((0xC9, 0), "ch10 Program 1"),
    ((0xD1, 33), "ch2 Channel Pressure 33"),
    ((0xF8,), "Clock"),
    ((0xFA,), "Start"),
    ((0xF2, 32, 0), "Song Position 32 (bar 3, beat 1)"),
    ((0xF0, 0x00, 0x20, 0x3C, 1, 2, 0xF7), "SysEx 7 bytes, manufacturer 00 20 3C (Elektron)"),
    ((0xF0, 0x41, 0x10, 0xF7), "SysEx 4 bytes, manufacturer 41 (Roland)"),
])
def test_describe_words_each_kind(data, text):
    assert midiwords.describe(bytes(data)) == text


def test_decode_restores_running_status_and_places_realtime_inside_messages(tmp_path, capsys):
    """A wire file one byte a line (as the simulator writes): a note-on, a running-status note
    with a clock byte between its two data bytes, and a SysEx with a clock byte inside."""
    wire(tmp_path / "out3.txt", [(10.0, [0x94]), (10.32, [0x40]), (10.64, [0x64]),
                                 (11.0, [0x43]), (11.32, [0xF8]), (11.64, [0x50]),
                                 (12.0, [0xF0]), (12.32, [0x7D]), (12.64, [0xF8]), (12.96, [0x01]), (13.28, [0xF7])])
    assert main(["decode", str(tmp_path / "out3.txt")]) == 0
    rows = [line.split(None, 2) for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    assert rows == [
        ["10.640", "out3", "ch5 Note On E4 vel 100"],
        ["11.320", "out3", "Clock"],
        ["11.640", "out3", "ch5 Note On G4 vel 80"],
        ["12.640", "out3", "Clock"],
        ["13.280", "out3", "SysEx 4 bytes, manufacturer 7D (non-commercial)"],
    ]


def test_decode_dir_per_port_and_merged_in_time_order(tmp_path, capsys):
    wire(tmp_path / "out1.txt", [(5.0, [0xF8]), (20.0, [0xFC])])
    wire(tmp_path / "out3.txt", [(10.0, [0x94, 0x40, 0x64])])
    (tmp_path / "console.txt").write_text("Thruway ready\n")
    assert main(["decode", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("# out1") and "2 messages" in out[0]
    assert out[3].startswith("# out3")
    assert main(["decode", str(tmp_path), "--merged"]) == 0
    merged = [line.split(None, 2)[1:] for line in capsys.readouterr().out.splitlines()]
    assert merged == [["out1", "Clock"], ["out3", "ch5 Note On E4 vel 100"], ["out1", "Stop"]]
    assert main(["decode", str(tmp_path), "--merged", "--no-clock"]) == 0
    assert "Clock" not in capsys.readouterr().out


def test_decode_lists_stream_problems_and_refuses_bad_files(tmp_path, capsys):
    wire(tmp_path / "out2.txt", [(1.0, [0x40]), (2.0, [0x90, 0x3C])])
    assert main(["decode", str(tmp_path / "out2.txt")]) == 0
    out = capsys.readouterr().out
    assert "out2: problem: data byte 40 with no status" in out
    assert "not complete at the end of the stream" in out
    (tmp_path / "bad.txt").write_text("1.0 XYZ\n")
    assert main(["decode", str(tmp_path / "bad.txt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a hex byte" in err[0]
    assert main(["decode", str(tmp_path / "none")]) == 2


def test_decode_names_ports_as_explain_does_from_the_configs_names(tmp_path, capsys):
    """With --config, each port the config's "names" names is printed as explain prints it
    (explain.label), in rows, headers and problems, per port and merged; the USB input's file
    (usb_in) carries the name of usb."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"version": 2, "names": {"in1": "KeyStep", "out3": "JU-06A", "usb": "Laptop"},
                                  "presets": [{"name": "p", "routes": [{"from": "all", "to": "all"}]}]}))
    wire(tmp_path / "in1.txt", [(1.0, [0x90, 0x40, 0x64])])
    wire(tmp_path / "out3.txt", [(2.0, [0x94, 0x40, 0x64]), (3.0, [0x40])])  # a stray data byte
    wire(tmp_path / "usb_in.txt", [(1.5, [0xFA])])
    wire(tmp_path / "out1.txt", [(3.5, [0xFA])])
    assert main(["decode", str(tmp_path), "--merged", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line.split(None, 1)[1] for line in out if not line.startswith(("#", "JU-06A (out3): problem"))]
    assert rows == ["KeyStep (in1) ch1 Note On E4 vel 100", "Laptop (usb_in) Start",
                    "JU-06A (out3) ch5 Note On E4 vel 100", "out1   Start"]
    assert any(line.startswith("JU-06A (out3): problem: ") for line in out)
    assert main(["decode", str(tmp_path / "out3.txt"), "--config", str(config)]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("# JU-06A (out3) (")
    # Without --config, ports are as the files name them; a config that cannot be read is one line.
    assert main(["decode", str(tmp_path / "in1.txt")]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[1] == "in1"
    assert main(["decode", str(tmp_path), "--config", str(tmp_path / "none.json")]) == 2
    assert "none.json: cannot read" in capsys.readouterr().err


def test_decode_reads_a_midi_file(tmp_path, capsys):
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack([mido.Message("note_on", channel=4, note=64, velocity=100, time=480)])
    mid.tracks.append(track)
    mid.save(tmp_path / "phrase.mid")
    assert main(["decode", str(tmp_path / "phrase.mid")]) == 0
    assert "500.000 phrase ch5 Note On E4 vel 100" in " ".join(capsys.readouterr().out.split())


# -- bridge --monitor and --preset -------------------------------------------------------------------


class FakeIn:
    def __init__(self, messages):
        self.messages = list(messages)

    def iter_pending(self):
        out, self.messages = self.messages, []
        return iter(out)


class FakeOut:
    def __init__(self):
        self.sent = []

    def send(self, msg):
        self.sent.append(msg)


def test_bridge_monitor_prints_in_and_out_in_words_and_preset_picks_the_routing():
    config = (ROOT / "examples/configs/a4-rytm-two-synths.json").read_text()
    lines = []
    now = [0.0]
    names = explain.port_names(json.loads(config))  # as bridge.main passes them
    monitor = bridge.printer(clock=lambda: now[0], out=lambda text, flush: lines.append(text), names=names)
    ins = {"in1": FakeIn([mido.Message("note_on", channel=0, note=64, velocity=100)])}
    outs = {p: FakeOut() for p in ("out1", "out2", "out3", "out4")}
    # Preset 2 "KeyStep plays the JU-06A": channel 1 from the KeyStep moves to channel 5 on out3.
    box, inputs, outputs = bridge.make_box(ins, outs, config, lambda: 0, preset=1, monitor=monitor)
    assert box.preset == 1
    for _ in range(5):
        now[0] += 0.001
        box.step()
    # The preset's on_enter calls up the JU-06A's sound first.
    assert [m.bytes() for m in outs["out3"].sent] == [[0xC4, 1], [0x94, 64, 100]]
    assert not outs["out1"].sent and not outs["out4"].sent
    # Ports named as the config names them (in1 "KeyStep", out3 "JU-06A"), in explain's words.
    words = [line.split(None, 1)[1] for line in lines]
    assert words[1:] == ["KeyStep (in1) ch1 Note On E4 vel 100", "JU-06A (out3) ch5 Note On E4 vel 100"]
    assert words[0].startswith("JU-06A (out3) ch5 Program")


def test_bridge_preset_by_name_and_unknown_preset_is_one_line():
    from host_tools.presets import PresetChoiceError, preset_index

    names = ["KeyStep on its channel", "KeyStep plays the JU-06A"]
    assert preset_index("KeyStep plays the JU-06A", names) == 1
    assert preset_index("1", names) == 0
    with pytest.raises(PresetChoiceError, match="the config has 2 presets"):
        preset_index("3", names)
    with pytest.raises(PresetChoiceError, match="no preset of that name"):
        preset_index("Typhon", names)


# -- explain -----------------------------------------------------------------------------------------


def test_explain_says_which_routes_share_an_output_as_a_split_or_layer(capsys):
    assert main(["explain", str(ROOT / "examples/configs/split-one-synth.json")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ports: in1 = KeyStep Pro, usb = Computer, out1 = Synth"  # usb named once
    preset1 = out[out.index("Preset 1: Bass / chords split") + 1:out.index("Preset 2: Layer: both parts")]
    assert preset1[:2] == [
        "  KeyStep Pro (in1) notes on ch 1 -> Synth (out1), moved to ch 1, notes C-1-B2 only",
        "  KeyStep Pro (in1) notes, CC, channel pressure, pitch bend on ch 1 -> Synth (out1), moved to ch 2, "
        "notes C3-G9 only"]
    assert ("  KeyStep Pro (in1) -> Synth (out1): routes 1, 2 each send their own copy of what they carry "
            "(a split or a layer)") in preset1
    assert "routes 1, 2, 3 each send" in "\n".join(out[out.index("Preset 3: Split + lead layer"):])
    # Plain routes sharing a pair send a message once: nothing said.
    from host_tools import fwimport

    checked, _ = fwimport.firmware_module("config").check(
        {"presets": [{"routes": [{"from": "in1", "to": "out1"}, {"from": "in1", "to": "out1", "kinds": ["notes"]}]}]})
    assert explain.shared_words(checked["presets"][0]["routes"], {}) == []


def test_explain_words_the_seed_001_setup_with_port_names(capsys):
    assert main(["explain", str(ROOT / "examples/configs/a4-rytm-two-synths.json")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ports: in1 = KeyStep, in2 = A4, out1 = A4 in, out2 = Rytm, out3 = JU-06A, out4 = Typhon"
    assert out[1] == "presets: a program change n on A4 (in2) ch 16 selects preset n + 1 (not forwarded)"
    preset2 = out[out.index("Preset 2: KeyStep plays the JU-06A") + 1:out.index("Preset 3: KeyStep plays the Typhon")]
    assert preset2 == [
        "  KeyStep (in1) notes, CC, channel pressure, pitch bend on ch 1 -> JU-06A (out3), moved to ch 5, only CC 1, 64",
        "  A4 (in2) notes, CC, program change, channel pressure, pitch bend on ch 5 -> JU-06A (out3)",
        "  A4 (in2) notes, CC, program change, channel pressure, pitch bend on ch 6 -> Typhon (out4)",
        "  on entering: program 1 on ch 5 -> JU-06A (out3)",
        "  clock from A4 (in2) to Rytm (out2), JU-06A (out3), Typhon (out4) (out1, usb: clock.send off)",
        "  CV: not used (no route to cv)",
    ]


def test_explain_follow_notes_range_and_cc_map(capsys):
    assert main(["explain", str(ROOT / "examples/configs/digitakt-master.json")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert ("  KeyStep (in1) CC, pitch bend -> Rev2 (out2), OP-Z (out3), Minitaur (out4), CC on Digitakt (in2)'s "
            "last note channel, pitch bend on Digitakt (in2)'s last note channel, only CC 1") in out
    assert ("  KeyStep (in1) notes, pitch bend -> Minitaur (out4), moved to ch 3, notes C-1-B2 only, "
            "transposed -12 semitones") in out
    assert any("only CC 1, 64, CC 1 as CC 74" in line for line in out), out


def test_explain_clock_master_transforms_and_cv(tmp_path, capsys):
    config = {"version": 1, "presets": [
        {"name": "Poly", "routes": [
            {"from": "in1", "to": ["out1", "cv"], "kinds": ["notes"], "transpose": -12,
             "velocity": {"scale": 50, "offset": 10}},
            {"from": "in2", "to": "out2", "remap": {"pitch_bend": 2}}],
         "clock": {"master": "internal", "bpm": 96, "send": {"usb": False}, "divide": {"out2": 2},
                   "analog": {"resolution": "1/8"}},
         "cv": {"mode": "poly", "poly": {"channel": 3, "voices": 3, "allocation": "steal_oldest"},
                "voices": [{}, {}, {}, {"channel": 9, "mod": "cc:74", "glide_ms": 40}],
                "drums": {"channel": 11, "mode": "gate"}}},
        {"name": "Silent", "routes": []}]}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    assert main(["explain", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "Preset 1: Poly",
        "  in1 notes -> out1, cv, transposed -12 semitones, velocity x50% +10",
        "  everything from in2 -> out2, pitch bend moved to ch 2",
        "  clock: internal at 96 BPM to out1, out2 (1 tick in 2), out3, out4 (usb: clock.send off)",
        "  CV: poly on ch 3 over voices 1-3 (steal oldest allocation)",
        "  CV voice 4 (cv4, gate4, mod4): ch 9, last-note priority, mod = cc:74, glide 40 ms",
        "  drums: ch 11, C2 C#2 D2 D#2 E2 F2 F#2 G2 -> drum1..drum8 (gate)",
        "  clock jacks: a pulse every 1/8 note, 5 ms pulses; reset on Start, run while playing",
        "Preset 2: Silent",
        "  routes nothing",
        "  clock: master auto (the input that last sent Start), through the routes to no output",
        "  CV: not used (no route to cv)",
    ]


def test_explain_refuses_what_the_box_refuses_in_one_line(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"version": 1, "presets": [{"routes": [{"from": "in1", "to": "out9"}]}]}))
    assert main(["explain", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: %s: the box would refuse it: presets[0].routes[0].to: unknown port 'out9' "
                   "(ports are out1, out2, out3, out4, usb, cv, usbh)" % path]


# -- make bench's verdict ----------------------------------------------------------------------------


class BoardRun:
    """What bench_verdict.judge reads of a board engine run."""

    def __init__(self, outputs, pass_cycles):
        self.outputs = outputs
        self.pass_cycles = pass_cycles
        self.pass_ns = [c * 8 for c in pass_cycles]  # at 125 MHz
        self.counters = {}


def verdict_of(drop=None, busy_cycles=100_000, overflow=None):
    from host_tools import bench_verdict
    from host_tools.sim.wires import din_arrival_times

    inputs = bench_verdict.session()
    outputs = {}
    for k, port in enumerate(bench_verdict.PORTS):
        timed = din_arrival_times(inputs[port])
        if port == drop:
            timed = timed[:40] + timed[41:]  # one byte lost: the value of a mod wheel CC
        outputs["out%d" % (k + 1)] = [(t + 500_000, b) for t, b in timed]
    # 1 ms of start, the streams (passes of busy_cycles), then idle passes of 20,000 cycles.
    busy_passes = int((bench_verdict.STREAM_MS + 1) * 125_000 / busy_cycles)
    passes = [125_000] + [busy_cycles] * busy_passes + [20_000] * 1000
    run = BoardRun(outputs, passes)
    run.counters = {port: {"rx_overflow": n} for port, n in (overflow or {}).items()}
    figures = bench_verdict.judge(run, inputs)
    return figures, bench_verdict.verdict_lines(figures)


def test_bench_verdict_yes_with_its_margin():
    figures, lines = verdict_of()
    assert figures["lost"] == {} and figures["messages"] == 4 * 85 * 4
    assert abs(figures["load"] - 0.8) < 1e-9  # 80,000 of each 100,000-cycle pass above the idle 20,000
    assert lines[0].startswith("Verdict: YES. The box keeps up with four DIN inputs at full rate: all 1360 messages")
    assert lines[1] == ("Margin: the bytes took 80% of the CPU, so it could take about 1.2x that traffic; the longest "
                        "pass, 0.80 ms, is under the 40.96 ms every DIN input holds.")


def test_bench_verdict_no_names_the_losses_and_the_long_passes():
    figures, lines = verdict_of(drop="in3", busy_cycles=500_000, overflow={"in3": 1})
    assert figures["lost"] == {"in3": 1}  # the mod wheel CC whose value byte was lost
    assert lines[0] == "Verdict: NO. With four DIN inputs at full rate the box lost 1 of 1360 messages (in3: 1)."
    assert lines[1].startswith("Main-loop passes took up to 4.00 ms while playing; every DIN input holds at least "
                               "40.96 ms")
    assert lines[2].startswith("The inputs' receive buffers overflowed by 0, 0, 1, 0 bytes (in1, in2, in3, in4)")
    assert len(lines) == 4


def test_calibration_combines_shifted_runs_as_means_of_maxima_and_of_means():
    from host_tools import calibration

    runs = [{"note max": 1.0, "note mean": 1.0, "longest pass": 3.0},
            {"note max": 2.0, "note mean": 3.0, "longest pass": 2.0, "clock max": 1.0}]
    assert calibration.combined(runs) == {"clock max": 1.0, "longest pass": 2.5, "note max": 1.5, "note mean": 2.0}


def test_calibration_shifts_every_input_byte_and_event():
    from host_tools import calibration

    config, inputs, events, until = calibration.reference_session()
    c2, moved, moved_events, u2 = calibration.shifted((config, inputs, events, until), 0.25)
    assert (c2, u2) == (config, until)
    for port, lines in inputs.items():
        assert [(t + 250_000, d) for t, d in lines] == moved[port]
    assert moved_events == [(t + 250_000,) + tuple(rest) for t, *rest in events]
