"""The simulator's latency report (host_tools/sim/report.py) never matches an output message to
an input message the box did not forward."""

from host_tools.sim import report

MS = 1_000_000


class Result:
    def __init__(self, inputs, outputs):
        self.inputs = inputs
        self.outputs = outputs


def timed(*lines):
    # (ms, bytes...) -> [(time_ns, byte)], bytes 0.32 ms apart, the last at the line's time.
    out = []
    for t, *data in lines:
        for k, b in enumerate(data):
            out.append((int((t - 0.32 * (len(data) - 1 - k)) * MS), b))
    return out


def test_a_clock_not_forwarded_is_never_matched():
    # in1 is the master; in2's clock is dropped by the box. Every forwarded tick left 0.5 ms
    # after the master's.
    r = Result({"in1": timed((0, 0xF8), (10, 0xF8), (20, 0xF8)), "in2": timed((5, 0xF8), (15, 0xF8))},
               {"out1": timed((0.5, 0xF8), (10.5, 0xF8), (20.5, 0xF8))})
    lat, _ = report.latencies(r)
    assert lat["clock"]["count"] == 3
    assert abs(lat["clock"]["max"] - 0.5) < 1e-6


def test_a_dropped_note_is_never_matched():
    # in1 sends A (dropped by the box), B, A again: the output's A is the second one.
    a = (0x90, 60, 100)
    b = (0x90, 62, 100)
    r = Result({"in1": timed((1, *a), (2, *b), (3, *a))}, {"out1": timed((2.5, *b), (3.5, *a))})
    lat, _ = report.latencies(r)
    assert lat["note"]["count"] == 2
    assert abs(lat["note"]["max"] - 0.5) < 1e-6
