"""Issue 14's latency and input-loss targets on the board engine (docs/board-engine.md, "Under
load"): ``make bench``'s load sessions (host_tools/bench_full_rate.py) in short, the demo
(``board_demo``, shared with the other board tests) and ``LOAD_MS`` of every input at full rate.

Each test asserts what the firmware holds today and prints the figures of the targets it does
not reach yet (clock latency, note latency, the longest pass; no input byte lost at full rate):
``pytest -s`` shows them, ``make bench`` measures the full 60 s."""

import pytest

from host_tools import bench_chords, bench_cv, bench_full_rate, dense_streams, midiwire
from host_tools.board import engine
from host_tools.sim import report
from host_tools.sim.wires import BYTE_NS

try:
    FILES = engine.find_files()
except engine.Missing as e:
    pytest.skip(str(e), allow_module_level=True)

LOAD_MS = 2500  # about 25 s of wall time on the board engine
# The share of the four DIN inputs' bytes the box reads in that full-rate session. Issue 14's
# target is all of them; the board reads 0.491 of them (0.438 before the late queue's one call
# for every output and the plain drop loop, December 2026): this holds the forced path's
# throughput against a slower change, with room for the layout's noise (about 0.01).
READ_AT_FULL_RATE = 0.46


@pytest.fixture(scope="module")
def demo(board_demo):
    return board_demo, bench_full_rate.board_figures(board_demo)


def _board(session):
    # (result, bench_full_rate.board_figures) of a session run on the board engine.
    config, inputs, events, until = session
    result = engine.board_run(config, inputs, events, until, files=FILES)
    return result, bench_full_rate.board_figures(result)


@pytest.fixture(scope="module")
def load():
    return _board(dense_streams.session(LOAD_MS))


@pytest.fixture(scope="module")
def busy():
    # make bench's busy rig: every input a tenth busy, all merged to every output (about 12 s).
    return _board(dense_streams.session(bench_full_rate.LOAD_SECONDS * 1000, load=bench_full_rate.BUSY_LOAD))


@pytest.fixture(scope="module")
def chords():
    # Four CV chords (notes 1 ms apart, one per voice) while in3 carries a controller every
    # 1.5 ms: the CV engine at its busiest, beside a PIO input (host_tools/bench_chords.py).
    return _board(bench_chords.session(1.5))


@pytest.fixture(scope="module")
def usb_burst():
    return _board(dense_streams.usb_burst_session())


@pytest.fixture(scope="module")
def din_sysex():
    return _board(dense_streams.din_sysex_session())


@pytest.fixture(scope="module")
def usb_sysex():
    return _board(dense_streams.usb_sysex_session())


def _show(name, figures):
    bench_full_rate.print_figures(name, figures)


def _nothing_lost_or_allocated(figures):
    assert {port: v["lost"] for port, v in figures["input_loss"].items()} == {"in1": 0, "in2": 0, "in3": 0, "in4": 0}
    assert figures["allocated_blocks_playing"] == 0 and figures["gc_collections_playing"] == 0


def test_the_demo_loses_no_input_byte(demo):
    _, figures = demo
    _show("demo", figures)
    loss = figures["input_loss"]
    assert loss["in1"]["sent"] > 50 and loss["in2"]["sent"] > 500
    assert {port: v["lost"] for port, v in loss.items()} == {"in1": 0, "in2": 0, "in3": 0, "in4": 0}


def test_every_clock_byte_of_the_demos_master_leaves_every_output(demo):
    # Clock latency is measured on each of them (the targets: mean <= 0.7 ms, max <= 1.2 ms per
    # output; printed above, not reached yet).
    result, figures = demo
    sent = sum(1 for _, b in result.inputs["in2"] if b == 0xF8)
    assert sent == 193
    for port, lat in figures["latency"].items():
        assert lat["clock"]["count"] == sent, port
        if port != "usb":
            assert lat["clock"]["min"] >= BYTE_NS / 1e6, port  # never before its own byte time on the wire
    for what, value, bound, met in bench_full_rate.targets(figures):
        print("demo: %-34s %8.3f ms (target %.2f)%s" % (what, value, bound, "" if met else ": not met yet"))


def test_the_demos_notes_leave_every_din_output_whole(demo):
    # A 3-byte note's target (one message time + 0.5 ms on an idle output) is printed above.
    # Every note that leaves a DIN output starts on the wire only once its input message has
    # fully arrived: its first byte's start bit (a byte time before that byte's end) is not
    # earlier. Per message, whether it went out with its status or under running status.
    result, figures = demo
    pairs = report.matched(result)
    for port in ("out1", "out2", "out3", "out4"):
        assert figures["latency"][port]["note_idle"]["count"] > 0, port
        notes = [(m, t) for m, t in pairs[port] if t is not None and m.kind() == "note"]
        assert len(notes) == figures["latency"][port]["note"]["count"], port
        early = [(m, t) for m, t in notes if m.start_ns - BYTE_NS < t]
        assert early == [], port


def test_full_rate_inputs_keep_the_box_up_without_allocating(load):
    # Four DIN inputs at full rate and USB at the DIN rate, all merged to every output: the box
    # stays up (no watchdog reset), allocates nothing and sends only valid MIDI; it does not keep
    # up yet (input bytes lost, clock latency: printed; issue 14).
    result, figures = load
    _show("full rate, %.1f s" % (LOAD_MS / 1000), figures)
    assert result.board["resets"] == 0
    assert figures["allocated_blocks_playing"] == 0
    assert figures["gc_collections_playing"] == 0
    for port in ("out1", "out2", "out3", "out4", "usb"):
        messages, problems = midiwire.decode(result.outputs[port])
        # The run ends while the box is still behind: the last message may be cut by the end.
        problems = [p for p in problems if not p.endswith("not complete at the end of the stream")]
        assert problems == [] and len(messages) > 20, port


def test_full_rate_input_loss_is_counted_for_every_input(load):
    # What each input's wire carried is what the session sent (full rate, no gap), and the loss
    # the engine counts is a part of it; "no input byte lost" is the target (printed above).
    result, figures = load
    for port in ("in1", "in2", "in3", "in4"):
        loss = figures["input_loss"][port]
        assert loss["sent"] >= (LOAD_MS - 2) * 1_000_000 // BYTE_NS, port
        assert 0 <= loss["lost"] <= loss["sent"], port
    usb = figures["usb_in"]
    assert usb["packets_taken"] + usb["packets_pending_at_end"] == len(result.inputs["usb"]) // 3


def test_full_rate_input_is_read_at_least_as_far_as_the_box_reads_it_now(load):
    _, figures = load
    loss = [figures["input_loss"][port] for port in ("in1", "in2", "in3", "in4")]
    read = 1 - sum(v["lost"] for v in loss) / sum(v["sent"] for v in loss)
    print("full rate: the box read %.3f of its DIN inputs' bytes" % read)
    assert read >= READ_AT_FULL_RATE


def test_full_rate_drops_by_rule_are_the_queues_and_counted_apart(load):
    # Five inputs into each DIN output's one wire: the merger drops by rule (queue_full) on every
    # DIN output, counted apart from the input loss; no SysEx or note rule is met (the filler owes
    # one note-off at most, no SysEx is sent).
    _, figures = load
    drops = figures["drops"]
    assert drops is not None
    for port in ("out1", "out2", "out3", "out4"):
        assert set(drops[port]) == {"queue_full"} and drops[port]["queue_full"] > 100, port


def test_in_a_busy_rig_the_masters_clock_waits_for_one_message_not_a_pass(busy):
    # Every wire a tenth busy: nothing lost or dropped. A pass that meets several inputs'
    # messages takes 2-3 ms; the clock master's input is read again after each later input's
    # work (app), so its clock waits for one message: at most 1.2-1.3 ms on the board engine
    # (3.1-3.5 ms when it was read once a pass; 1.9 on USB).
    result, figures = busy
    _show("every wire a tenth busy, %d s" % bench_full_rate.LOAD_SECONDS, figures)
    _nothing_lost_or_allocated(figures)
    assert figures["drops"] == {port: {} for port in ("out1", "out2", "out3", "out4", "usb")}
    sent = sum(1 for _, b in result.inputs["in2"] if b == 0xF8)
    for port in ("out1", "out2", "out3", "out4", "usb"):
        clock = figures["latency"][port]["clock"]
        assert clock["count"] == sent > 40, port
        assert clock["max"] < 1.8, (port, clock)


def test_cv_chords_under_a_controller_lane_lose_nothing_and_keep_the_gate_contracts(chords):
    # Every input byte read, every chord note a gate that rose after its CV had settled and
    # stayed up over 1 ms, every gate down once its note ended, nothing allocated.
    result, figures = chords
    for port in ("in1", "in3"):
        assert figures["input_loss"][port]["lost"] == 0, port
    assert figures["allocated_blocks_playing"] == 0 and figures["gc_collections_playing"] == 0
    cv = bench_cv.summary_figures(result)
    assert cv["gate_high_ms"]["count"] == 4 * len(bench_chords.CHORD_STARTS_MS), cv
    assert cv["cv_settle_ms"]["min"] >= bench_cv.PITCH_SETTLE_MS and cv["gate_high_ms"]["min"] > bench_cv.GATE_MIN_MS, cv
    last = {}
    for _, name, volts in result.signals:
        last[name] = volts
    assert [last["gate%d" % v] for v in range(1, 5)] == [0.0] * 4
    for port in ("out1", "out2", "out3", "out4", "usb"):
        _, problems = midiwire.decode(result.outputs[port])
        assert problems == [], port


def test_a_usb_burst_reaches_every_din_output_whole_and_holds_no_pass_long(usb_burst):
    # 300 notes and a SysEx over USB at once, while the demo plays: USB waits rather than drop,
    # so every DIN output carries all of them in order, the SysEx whole after the notes (the
    # box reads it 3 bytes a pass, across TinyUSB's packets); the box reads USB a message a pass, so no pass
    # holds the demo's clock. Read 64 bytes a pass, the burst made passes of 11.0 ms and the
    # clock reached out1 up to 11.8 ms late (docs/board-engine.md, "A USB burst").
    result, figures = usb_burst
    _show("USB burst", figures)
    _nothing_lost_or_allocated(figures)
    sysex = dense_streams.BURST_SYSEX
    burst = bytes(b for _, b in result.inputs["usb"])[:-len(sysex)]
    assert figures["usb_in"]["packets_taken"] > 0 and figures["usb_in"]["packets_pending_at_end"] == 0
    channel = dense_streams.FILLER_CHANNEL["usb"]
    for port in ("out1", "out2", "out3", "out4"):
        msgs, problems = midiwire.decode(result.outputs[port])
        assert problems == [], port
        notes = [k for k, m in enumerate(msgs) if m.data[0] & 0x0F == channel and m.data[0] < 0xF0]
        assert b"".join(bytes(msgs[k].data) for k in notes) == burst, port
        assert [(k > notes[-1], bytes(m.data)) for k, m in enumerate(msgs) if m.data[0] == 0xF0] == [(True, sysex)], port
    assert figures["longest_pass_playing_ms"] < 4.0
    assert figures["latency"]["out1"]["clock"]["max"] < 3.0


def _sysex_whole_on_every_din_output(result, sysex):
    # Returns its time from F0 to F7 on out1, in wire times.
    for port in ("out1", "out2", "out3", "out4"):
        msgs, problems = midiwire.decode(result.outputs[port])
        assert problems == [], port
        whole = [m for m in msgs if m.data[0] == 0xF0]
        assert [bytes(m.data) for m in whole] == [sysex], port
    start = [t for t, b in result.outputs["out1"] if b == 0xF0][0]
    end = [t for t, b in result.outputs["out1"] if b == 0xF7][0]
    return (end - start) / (len(sysex) * BYTE_NS)


def test_a_din_sysex_while_the_demo_plays_streams_at_wire_rate_and_holds_the_clock_little(din_sysex):
    # 1,002 bytes of SysEx on in3 (PIO) while the demo plays: every DIN output carries it whole,
    # in little more than its wire time, and the demo's clock is not held for long. A byte a
    # call, the SysEx took 492 ms to leave out1 (321 on the wire) and the clock reached out1 up
    # to 5.3 ms late; with the run a call but the held inputs tried again every pass, 385 ms
    # (docs/board-engine.md, "A DIN SysEx while playing").
    result, figures = din_sysex
    _show("DIN SysEx", figures)
    _nothing_lost_or_allocated(figures)
    assert _sysex_whole_on_every_din_output(result, dense_streams.DIN_SYSEX) < 1.15
    assert figures["latency"]["out1"]["clock"]["max"] < 4.0


def test_a_usb_sysex_while_the_demo_plays_streams_near_wire_rate(usb_sysex):
    # The same SysEx from the computer (an editor sending a sound while the sequencer plays):
    # USB waits rather than drop, every DIN output carries it whole, and the demo's inputs wait
    # for it untried. Tried again every pass, they made each pass about 1.7 ms, and the SysEx
    # took 550 ms to leave out1: 1.71 wire times (docs/board-engine.md, "A SysEx while playing").
    result, figures = usb_sysex
    _show("USB SysEx", figures)
    _nothing_lost_or_allocated(figures)
    assert figures["usb_in"]["packets_pending_at_end"] == 0
    assert _sysex_whole_on_every_din_output(result, dense_streams.DIN_SYSEX) < 1.35
    assert figures["latency"]["out1"]["clock"]["max"] < 3.0
