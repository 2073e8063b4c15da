"""Speed on the real runtime (issue 14): ``make bench``'s firmware scenario on the board engine
(docs/board-engine.md), one run shared by the tests here. Each test checks a figure the board
engine measures against the issue's target where the firmware reaches it: the idle pass's
cycles, a forwarded clock byte within 3x an idle pass's, and every pass while playing within
1 ms at the firmware's 200 MHz. The passes' cycles are also held at what they reached
(``REACHED``) so the work does not slide back."""

import pytest

from host_tools import bench_board, midiwire
from host_tools.board import engine

try:
    FILES = engine.find_files()
except engine.Missing as e:
    pytest.skip(str(e), allow_module_level=True)

# The figures are CPU cycles (the bench's, at the firmware's clock: 200 MHz) and their time.
IDLE_PASS_MAX = 25_700  # cycles: no slower than the idle pass when issue 14 was filed
PASS_MAX_MS = 1.0  # the longest any pass may hold the loop
# The same bound in cycles, as these tests held it at 125 MHz for the passes that met it there
# (the box's own timed work, the CV engine's play of a note, a clock pulse, a preset switch):
# kept, so the faster clock cannot hide their cycles growing.
PASS_MAX_CYCLES = 125_000


@pytest.fixture(scope="module")
def bench():
    figures, result = bench_board.firmware_figures(FILES)
    print("board engine, bench scenario:", figures)
    return figures, result


def test_the_scenario_ran(bench):
    figures, _ = bench
    assert figures["forwarded_ok"]
    assert figures["idle"] is not None and figures["quiet_longest"] is not None


def test_idle_pass_within_target(bench):
    figures, _ = bench
    assert figures["idle"] <= IDLE_PASS_MAX


def test_a_forwarded_clock_byte_costs_at_most_three_idle_passes(bench):
    # Issue 14's first target, as it was measured when filed: the pass that reads one F8 and
    # forwards it to the four DIN outputs and USB, against an idle pass of the same run.
    figures, _ = bench
    assert figures["forward"] <= 3 * figures["idle"], (figures["forward"], figures["idle"])


def test_the_boxs_own_timed_work_fits_a_pass(bench):
    # Away from every input byte and button (8 ms after each): panel scans, LED frames (composed
    # on one ms tick, written on the next), the watchdog feed, the merger's timeouts.
    figures, _ = bench
    assert bench_board.pass_ms(figures, "quiet_longest") <= PASS_MAX_MS
    assert figures["quiet_longest"] <= PASS_MAX_CYCLES


def test_no_allocation_or_collection_while_playing_with_a_preset_switch(bench):
    # The session plays notes, clock and a preset switch from the panel: a switch installs setups
    # built at start-up and prints its console line without formatting a string.
    figures, result = bench
    assert figures["allocated_blocks_playing"] == 0
    assert figures["gc_collections_playing"] == 0
    assert "preset 2: Keys to 1" in result.console


def test_a_preset_switch_ends_a_held_note_where_the_new_preset_no_longer_sends_it(bench):
    # Preset 2 routes every input to out1 and the CV engine only: the note held across the
    # switch gets its off on out2-out4 and USB from the switch itself (in parts, a ms tick
    # each, within the preset_switch figure), and its own off on out1 only.
    _, result = bench
    held_on, held_off = bytes((0x90, 0x40, 0x64)), bytes((0x80, 0x40, 0x00))
    for port in ("out1", "out2", "out3", "out4", "usb"):
        got, _ = midiwire.decode(result.outputs[port])
        notes = [m for m in got if m.data[0] & 0xE0 == 0x80 and m.data[1] == 0x40]
        assert [m.data for m in notes[-2:]] == [held_on, held_off], port
        off_ms = notes[-1].time_ns / 1e6
        if port == "out1":
            assert off_ms >= bench_board.HOLD_OFF, port
        else:
            assert bench_board.SWITCH_RELEASE < off_ms < bench_board.SWITCH_RELEASE + bench_board.SWITCH_WINDOW_MS, port


def test_the_cv_engine_plays_a_note_in_a_pass_of_its_own_within_a_pass(bench):
    # Forward first: the pass that forwards a note only hands it to the CV engine; the next pass
    # plays it (voice, two I2C writes). That pass (the median over the notes) fits 1 ms; the
    # forwarding pass itself is the merger's (still over: docs/board-engine.md).
    figures, _ = bench
    assert bench_board.pass_ms(figures, "cv_note_after") <= PASS_MAX_MS
    assert figures["cv_note_after"] <= PASS_MAX_CYCLES
    assert figures["cv_note_after"] < figures["cv_note"]


@pytest.mark.parametrize("figure", ["forward", "tempo_estimate", "cv_note", "clock_pulse", "preset_switch", "longest_playing"])
def test_every_pass_while_playing_fits_1_ms(bench, figure):
    # Issue 14's target for the longest pass while playing, and for what it names: a forwarded
    # message, a CV note (the pass forwarding it; the next, which plays it, above), a clock tick
    # that makes an analog pulse (the pass forwarding a followed F8 whose tick raises the clock
    # jack) and the tick after it (the tempo estimate), a preset switch (each of its parts, a ms
    # tick apart). At 125 MHz the CV note and the longest pass while playing took 1.02 and
    # 1.10 ms; the firmware runs at 200 MHz.
    figures, _ = bench
    assert figures["clk_sys_hz"] == 200_000_000
    assert bench_board.pass_ms(figures, figure) <= PASS_MAX_MS, (figure, figures[figure])
    if figure in ("clock_pulse", "tempo_estimate", "preset_switch"):
        assert figures[figure] <= PASS_MAX_CYCLES, (figure, figures[figure])


# What the byte path reached (make bench, the board engine), in CPU cycles, whatever the clock.
# These hold the measured figures, 12 % over them, so the work does not slide back: forward
# 75,182 (73,607 once its window was 1 ms), 59,907 once a followed F8 took the merger's timing
# path in one call (72,552 before), 53,970 once a stopped clock took no call for it; CV
# note 127,055 once the CV engine took it in the forwarding pass (166,843 before), 124,754 at
# 200 MHz; clock tick
# with a pulse 82,508, 69,154 with that path (80,666 before), 65,682; longest pass while playing 140,690 (173,579 before); the preset switch
# 116,397 once its clock became a part of its own (117,090 with a note held across it).
REACHED = {
    "forward": 60_500,
    "cv_note": 139_000,
    "clock_pulse": 73_500,
    "preset_switch": 130_000,
    "longest_playing": 158_000,
}


@pytest.mark.parametrize("figure", sorted(REACHED))
def test_the_byte_path_keeps_what_it_reached(bench, figure):
    figures, _ = bench
    assert figures[figure] <= REACHED[figure], (figure, figures[figure])
