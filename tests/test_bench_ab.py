"""``host_tools/bench_ab.py``: arms of one build, set apart only by module globals. Its premise is
checked on the board engine: the arms' drives differ only in the loader's settings, the firmware
runs them, and one build on the same inputs gives the same figures to the cycle."""

import pytest

from host_tools import bench_ab, figures
from host_tools.board import engine


def test_an_arm_is_module_globals_and_the_arms_set_the_same_names():
    assert bench_ab.parse_arm("app.CV_DEFER=1,merger.LIMIT=0x10") == [("app", "CV_DEFER", 1), ("merger", "LIMIT", 16)]
    assert bench_ab.parse_arms(["app.X=0", "app.X=-1"]) == [[("app", "X", 0)], [("app", "X", -1)]]
    for bad in ("CV_DEFER=1", "app.X", "app.X=", "app.X=not a literal", "app.X=1.5", "app.X='a'", "app.X=10**12"):
        with pytest.raises(ValueError):
            bench_ab.parse_arm(bad)
    with pytest.raises(ValueError):
        bench_ab.parse_arms(["app.X=0", "app.Y=0"])


def test_a_run_is_the_moved_demo_or_a_newly_seeded_full_rate_session():
    assert bench_ab.session(2) == bench_ab.bench_full_rate.shifted_demo(2)
    first, second = bench_ab.session(0, full_rate_ms=50), bench_ab.session(1, full_rate_ms=50)
    assert first == bench_ab.dense_streams.session(50)
    assert first[0] == second[0] and first[1] != second[1]  # one config (one drive), other inputs
    assert bench_ab.session(1, full_rate_ms=50, load=0.1) == bench_ab.dense_streams.session(
        50, seed=bench_ab.dense_streams.SEED + 1, load=0.1)


def test_note_to_gate_pairs_each_rise_with_the_last_note_on_its_voices_channel():
    def note(end_ns, status):  # a message's bytes as a result's input holds them; done at end_ns
        return [(end_ns - 640_000, status), (end_ns - 320_000, 0x3C), (end_ns, 0x64)]

    class Result:
        inputs = {"in1": note(1_000_000, 0x90) + note(5_000_000, 0x91), "in2": note(2_000_000, 0x90)}
        # gate1 rises after both channel-1 notes; gate2 after its own note, not in1's last one
        signals = [(0, "gate1", 0.0), (3_500_000, "gate1", 5.0), (0, "gate2", 0.0), (6_000_000, "gate2", 5.0),
                   (0, "cv1", 0.0)]

    assert figures.note_to_gate_ms(Result()) == [1.5, 1.0]


@pytest.fixture(scope="module")
def files():
    try:
        return engine.find_files()
    except engine.Missing as e:
        pytest.skip(str(e))


def test_the_arms_drives_differ_only_in_their_values_at_one_width(files):
    # The loader and every file are the same bytes in both arms; the values file differs, at
    # one length: so the arms' heaps are laid out alike.
    config = bench_ab.bench_full_rate.shifted_demo(0)[0]
    one = bench_ab.arm_tree(config, files["mpy_cross"], [("app", "AB_MARK", 0), ("merger", "AB_MARK", 5)])
    other = bench_ab.arm_tree(config, files["mpy_cross"], [("app", "AB_MARK", -123456), ("merger", "AB_MARK", 99)])
    assert set(one) == set(other)
    assert [path for path in one if one[path] != other[path]] == [bench_ab.SETTINGS_FILE]
    assert len(one[bench_ab.SETTINGS_FILE]) == len(other[bench_ab.SETTINGS_FILE])
    (code,) = [path for path in one if path.endswith("/thruway_code.py")]
    assert one[code].decode().endswith("from firmware import app\n\napp.run()\n")  # after the loader, the repo's code.py


def test_one_build_gives_the_same_figures_to_the_cycle(files):
    # Two arms that set a name the firmware never reads: identical runs, the settings printed
    # by the firmware's own loader before its main loop.
    measured = bench_ab.measure(files, ["app.AB_MARK=7", "app.AB_MARK=0x7"], shifts=1, jobs=2)
    (first,), (second,) = measured.values()
    printed = "bench_ab: " + bench_ab.VALUE_FORMAT % 7
    assert printed in first.pop("console") and printed in second.pop("console")
    assert first == second
    assert first["note_to_gate"] and first["idle_cycles"] > 0
