"""``bench_full_rate.spread``: the range of each demo figure over shifted runs (the way to judge
a change, docs/board-engine.md). Synthetic figures: no board run."""

from host_tools import bench_full_rate


def figures(clock_mean, clock_max, note_idle_max, longest, lost):
    def st(mean, mx):
        return {"count": 10, "mean": mean, "max": mx}

    return {
        "latency": {"out1": {"clock": st(clock_mean, clock_max), "note": st(1.4, 2.0),
                             "note_idle": st(1.3, note_idle_max)},
                    "usb": {"clock": st(0.4, 0.8), "note": st(0.7, 1.2), "note_idle": None}},
        "longest_pass_playing_ms": longest,
        "input_loss": {"in1": {"lost": lost, "sent": 65}, "in2": {"lost": 0, "sent": 555}},
    }


def test_spread_is_each_figures_lowest_and_highest_over_the_runs():
    runs = [figures(0.70, 1.10, 1.60, 1.5, 0), figures(0.69, 1.40, 1.85, 1.6, 2), figures(0.71, 1.20, 1.55, 1.4, 0)]
    sp = bench_full_rate.spread(runs)
    out1 = sp["latency"]["out1"]
    assert out1["clock"] == {"mean": (0.69, 0.71), "max": (1.10, 1.40)}
    assert out1["note_idle"]["max"] == (1.55, 1.85)
    assert out1["note"] == {"mean": (1.4, 1.4), "max": (2.0, 2.0)}
    assert "note_idle" not in sp["latency"]["usb"]  # no run had a note find usb idle
    assert sp["longest_pass_playing_ms"] == (1.4, 1.6)
    assert sp["input_lost"] == (0, 2)
    lines = []
    bench_full_rate.print_spread(3, sp, stream=lines.append)
    assert "in1 0-122 us, in2 0-194 us" in lines[0]
    assert any(line.split()[0] == "out1" and "0.690-0.710 / 1.100-1.400" in line and "1.550-1.850" in line for line in lines[2:])


def test_a_shifted_demo_moves_in1_and_the_clock_master_in2_apart():
    base = bench_full_rate.shifted_demo(0)
    moved = bench_full_rate.shifted_demo(3)
    assert moved[0] == base[0] and moved[2] == base[2] and moved[3] == base[3]
    assert [(t - 3 * bench_full_rate.SHIFT_NS, d) for t, d in moved[1]["in1"]] == base[1]["in1"]
    assert [(t - 3 * bench_full_rate.CLOCK_SHIFT_NS, d) for t, d in moved[1]["in2"]] == base[1]["in2"]
    # in2's clock meets the ms tick at other phases than it did
    assert {t % 1_000_000 for t, d in moved[1]["in2"] if d == b"\xf8"} != {t % 1_000_000 for t, d in base[1]["in2"] if d == b"\xf8"}
