"""``python -m host_tools plot DIR``: a PNG of a simulator output directory."""

import pytest

from host_tools import midiwire, plot
from host_tools.__main__ import main

SESSION = "1 90 3C 64 3E 64\n3 F8\n10 99 24 7F\n12 F0 7E 7F 06 01 F7\n20 80 3C 40 3E 40\n25 89 24 40\n"


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plot")
    src = tmp / "session.txt"
    src.write_text(SESSION)
    out = tmp / "out"
    assert main(["sim", "--no-plot", "--in", "in1=%s" % src, "--out", str(out)]) == 0
    return out, src


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_plot_of_a_sim_dir(sim_dir, tmp_path, capsys):
    out, src = sim_dir
    target = tmp_path / "p.png"
    assert main(["plot", str(out), "--in", "in1=%s" % src, "--out", str(target)]) == 0
    printed = capsys.readouterr().out
    assert "plot: ->out1" in printed and "wrote" in printed
    width, height = png_size(target)
    assert width == 960 and height > 300


def test_flat_jacks_are_left_off_and_notes_are_named(sim_dir, tmp_path):
    """The default preset feeds the CV engine: the notes on ch 1 move cv1 and gate1, the drum on
    ch 10 fires drum1; voices 2-4 and the other drums stay flat and are left off. Every note-on
    is named on its lanes."""
    out, src = sim_dir
    info = plot.plot_dir(str(out), str(tmp_path / "p.png"), [plot.read_input("in1=%s" % src)],
                         progress=lambda s: None)
    signals = plot.read_signals(str(out / "signals.csv"))
    moved = plot.moving(signals)
    assert "cv1" in moved and "gate1" in moved and "drum1" in moved
    assert "cv4" not in moved and "gate4" not in moved and "drum8" not in moved
    assert info["panels"] == ["MIDI", "pitch CV (V)", "mod CV (V)", "gates (V)", "drums (V)"]
    # in1 and the five outputs each carry note-ons C4 and D4 (the drum note C2 shows as well).
    labels = plot.note_labels([(t, b) for t, d in midiwire.parse_timed_text((out / "out1.txt").read_text())
                               for b in d], 0, 100)
    assert [text for _, text in labels] == ["C4", "D4", "C2"]
    assert info["labels"] >= 3 * 6


def test_unused_cv_draws_the_midi_panel_only(tmp_path):
    src = tmp_path / "s.txt"
    src.write_text("1 92 40 64\n5 82 40 00\n")  # no route to cv: every jack stays flat
    out = tmp_path / "out"
    config = tmp_path / "c.json"
    config.write_text('{"version": 1, "presets": [{"routes": [{"from": "in1", "to": "out3"}]}]}')
    assert main(["sim", "--no-plot", "--config", str(config), "--in", "in1=%s" % src, "--out", str(out)]) == 0
    info = plot.plot_dir(str(out), str(tmp_path / "p.png"), progress=lambda s: None)
    assert info["panels"] == ["MIDI"]


def test_compact_names_of_hidden_signals():
    assert plot._compact(["cv3", "cv4", "drum2", "drum4", "drum5", "drum6", "run"]) == "cv3-4, drum2, drum4-6, run"


def test_lanes_count_every_byte_and_message(sim_dir, tmp_path):
    out, src = sim_dir
    info = plot.plot_dir(str(out), str(tmp_path / "p.png"), [plot.read_input("in1=%s" % src)],
                         progress=lambda s: None)
    for port in ("out1", "out2", "out3", "out4", "usb"):
        timed = [(t, b) for t, d in midiwire.parse_timed_text((out / (port + ".txt")).read_text()) for b in d]
        msgs, _ = midiwire.decode(timed)
        assert info["lanes"]["->" + port] == (len(timed), len(msgs))
    # Two notes sent with running status are two messages, not one (mido's parser would say 1).
    assert info["lanes"]["in1"] == (23, 8)
    assert info["xlim"][0] == 0.0 and info["xlim"][1] >= 25


def test_lane_ticks_split_by_kind():
    timed = [(1_000_000, 0x90), (1_320_000, 0x3C), (1_640_000, 0xF8), (1_960_000, 0x64), (2_280_000, 0xB0),
             (2_600_000, 0x01), (2_920_000, 0x40)]
    byte_ms, kinds = plot.lane_ticks(timed)
    assert byte_ms == [1.0, 1.32, 1.64, 1.96, 2.28, 2.6, 2.92]
    assert kinds == {"realtime": [1.64], "note": [1.96], "other": [2.92]}


def test_window(sim_dir, tmp_path):
    out, _ = sim_dir
    info = plot.plot_dir(str(out), str(tmp_path / "z.png"), window=(5.0, 15.0), progress=lambda s: None)
    assert info["xlim"] == (5.0, 15.0)
    assert main(["plot", str(out), "--start", "10", "--end", "5", "--out", str(tmp_path / "bad.png")]) == 2


@pytest.mark.parametrize("make,fragment", [
    (lambda d: None, "not a directory"),
    (lambda d: d.mkdir(), "not a simulator output directory"),
    (lambda d: (d.mkdir(), (d / "signals.csv").write_text("a,b\n")), "not a simulator signals.csv"),
    (lambda d: (d.mkdir(), (d / "out1.txt").write_text("x 90\n")), "not a time in ms"),
])
def test_bad_dirs_are_one_line_exit_2(tmp_path, capsys, make, fragment):
    d = tmp_path / "d"
    make(d)
    assert main(["plot", str(d)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err
