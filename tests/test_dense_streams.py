"""The full-rate load session (host_tools/dense_streams.py): every DIN input busy with no gap,
the demo's messages inside, seeded."""

from host_tools import dense_streams, midiwire
from host_tools.figures import NS_PER_MS
from host_tools.sim.wires import BYTE_NS, din_arrival_times

MS = 1500


def _session(seed=dense_streams.SEED):
    return dense_streams.session(MS, seed)[1]


def test_every_din_input_runs_at_full_rate_for_the_session():
    inputs = _session()
    for port in ("in1", "in2", "in3", "in4"):
        timed = din_arrival_times(inputs[port])
        times = [t for t, _ in timed]
        assert times[0] == dense_streams.START_NS
        assert all(b - a == BYTE_NS for a, b in zip(times, times[1:])), port  # no gap, ever
        assert times[-1] >= MS * NS_PER_MS - 3 * BYTE_NS
        _, problems = midiwire.decode(timed)
        assert problems == [], port


def test_usb_carries_a_whole_message_every_din_message_time():
    lines = _session()["usb"]
    assert all(len(data) == 3 for _, data in lines)
    assert all(b[0] - a[0] == 3 * BYTE_NS for a, b in zip(lines, lines[1:]))


def test_the_demo_plays_inside_in1_and_in2_whole_and_on_time():
    inputs = _session()
    for port in ("in1", "in2"):
        want = dense_streams.demo_messages(port, MS * NS_PER_MS)
        got = [(t, data) for t, data in inputs[port] if data[0] & 0x0F != dense_streams.FILLER_CHANNEL[port]
               or data[0] >= 0xF0]
        assert [d for _, d in got] == [d for _, d in want], port
        # Each waits at most for the filler message on the wire (and a demo message before it) to
        # end: its first byte ends less than a 3-byte message time after it would have.
        free = 0  # when the previous demo message's last byte has ended
        for (tg, data), (tw, _) in zip(got, want):
            assert max(tw, free) <= tg < max(tw, free) + 3 * BYTE_NS, (port, tw)
            free = tg + (len(data) - 1) * BYTE_NS + BYTE_NS
    clock = [t for t, data in inputs["in2"] if data == b"\xf8"]
    assert len(clock) == len([1 for _, d in dense_streams.demo_messages("in2", MS * NS_PER_MS) if d == b"\xf8"]) > 60


def test_a_filler_input_never_owes_more_than_one_note_off():
    for port, lines in _session().items():
        channel = dense_streams.FILLER_CHANNEL[port]
        held = 0
        kinds = set()
        for _, data in lines:
            if data[0] == 0x90 | channel:
                held += 1
            elif data[0] == 0x80 | channel:
                held -= 1
            assert 0 <= held <= 1, port
            kinds.add(data[0] & 0xF0)
        assert {0x80, 0x90, 0xB0} <= kinds


def test_the_session_is_seeded():
    assert _session(3) == _session(3)
    assert _session(3)["in3"] != _session(4)["in3"]


def test_a_load_below_one_leaves_each_filler_message_its_share_of_the_wire():
    # At a quarter load each 3-byte filler message is followed by three message times of silence.
    lines = dense_streams.session(MS, load=0.25)[1]["in3"]
    gaps = {b[0] - a[0] for a, b in zip(lines, lines[1:])}
    assert gaps == {round(3 * BYTE_NS / 0.25)}
    assert lines[-1][0] >= MS * NS_PER_MS - 12 * BYTE_NS
