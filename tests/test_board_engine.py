"""The board engine: the firmware on real CircuitPython 10.3 on an emulated RP2040
(docs/board-engine.md). Few, long scenarios, each engine run shared by the tests that read it."""

import pytest

from firmware.ports import RX_RING
from host_tools import bench_board, bench_cv, bench_full_rate, midiwire
from host_tools.board import engine, usbmidi
from host_tools.sim import runner, ticks, wires

try:
    FILES = engine.find_files()
except engine.Missing as e:
    pytest.skip(str(e), allow_module_level=True)

DEMO = {"in1": "examples/demo/keystep.txt", "in2": "examples/demo/digitakt.txt"}
# A code.py that allocates on every pass: the heap watch must see it (allocations, collections).
ALLOCATING_LOOP = b"""import board, busio
uart = busio.UART(board.GP0, board.GP1, baudrate=31250, timeout=0)
buf = bytearray(8)
junk = []
while True:
    uart.readinto(buf)
    junk.append(bytearray(64))
    if len(junk) > 100:
        junk = []
"""

# A code.py with two PIO receivers it never reads: in3's program alone, in4 the firmware's input
# (its DMA moves every byte into a ring, firmware/ports.py pio_in). The engine must count what
# in3's full RX FIFO and in4's full ring made the wire lose.
PIO_UNREAD = b"""from firmware import board_io as io
from firmware import pinmap as pm
uart = io._uart(pm.MIDI_OUT1, pm.MIDI_IN1)
io._pio_rx_machine(pm.MIDI_IN3)
io._pio_rx(pm.MIDI_IN4)
buf = bytearray(64)
while True:
    uart.readinto(buf)
"""
PIO_RX_FIFO = 8  # joined (fifo_type="rx")
# A code.py that reads the firmware's in4 only every 30 ms and writes what it read to out1.
PIO_STALLED_READER = b"""import time
from firmware import board_io as io
from firmware import pinmap as pm
uart = io._uart(pm.MIDI_OUT1, pm.MIDI_IN1)
in4 = io._pio_rx(pm.MIDI_IN4)
buf = bytearray(64)
while True:
    uart.readinto(buf)  # the engine's pass marker
    n = in4.read(buf)
    if n:
        uart.write(memoryview(buf)[:n])
    time.sleep(0.03)
"""

# A code.py that writes the low 7 bits of supervisor.ticks_ms() to out1 each time it changes: on
# the wire, when CircuitPython's ms tick stepped (the simulator's model: host_tools/sim/ticks.py).
TICK_WRITER = b"""import board, busio, supervisor
uart = busio.UART(board.GP0, board.GP1, baudrate=31250, timeout=0)
buf = bytearray(8)
out = bytearray(1)
ticks_ms = supervisor.ticks_ms
last = ticks_ms()
while True:
    uart.readinto(buf)
    now = ticks_ms()
    if now != last:
        last = now
        out[0] = now & 0x7F
        uart.write(out)
"""


# A loop on in1 whose UART is made before or after the CPU clock goes to 200 MHz
# (docs/board-engine.md, "The CPU clock").
CLOCK_AND_UART = """import board, busio, microcontroller
%s
buf = bytearray(8)
while True:
    uart.readinto(buf)
"""
UART_FIRST = "uart = busio.UART(board.GP0, board.GP1, baudrate=31250, timeout=0)"
CLOCK_FIRST = "microcontroller.cpu.frequency = 200_000_000"


def _demo_inputs():
    inputs = {}
    for port, path in DEMO.items():
        with open(runner.REPO / path) as f:
            inputs[port] = midiwire.parse_timed_text(f.read(), path)
    return inputs


@pytest.fixture(scope="module")
def demo(board_demo):
    config = (runner.REPO / "config.json").read_text()
    sim = runner.simulate(config, _demo_inputs())
    return board_demo, sim


def test_default_install_boots_and_reports_its_heap(demo):
    board, _ = demo
    assert "Thruway ready" in board.console
    free = board.board["heap_free_after_boot"]
    assert isinstance(free, int) and free > 0
    # The engine found the SDK's boot-time busy wait and skipped its 1.2 s (half a run's wall
    # time when it does not).
    assert 1000 < board.board["boot_wait_skipped_ms"] < board.board["boot_ms"]
    print("board engine: heap free after boot %d bytes, boot %.0f ms (%.0f of it a skipped busy wait), "
          "idle pass %d cycles" % (free, board.board["boot_ms"], board.board["boot_wait_skipped_ms"],
                                   board.board["pass_cycles"]["idle"]))


def _streams(timed):
    """An output's messages split by what orders them: per MIDI channel, real-time, system."""
    msgs, problems = midiwire.decode(timed)
    assert problems == []
    streams = {}
    for m in msgs:
        s = m.data[0]
        key = "rt" if s >= 0xF8 else "sys" if s >= 0xF0 else s & 0x0F
        streams.setdefault(key, []).append(bytes(m.data))
    return streams


def test_demo_outputs_carry_the_simulators_messages(demo):
    # Every message of every channel, and every real-time byte, in the same order as the
    # simulator sends them. How two inputs interleave depends on when each pass runs, which the
    # simulator's cost model does not reproduce exactly (issue 13 item 4): a status byte restated
    # after the other input's message is the only byte difference that may follow.
    board, sim = demo
    for port in runner.OUTPUT_PORTS:
        want = _streams(sim.outputs[port])
        assert want, port
        assert _streams(board.outputs[port]) == want, port


def _values(signals):
    out = {}
    for _, name, volts in signals:
        out.setdefault(name, []).append(round(volts, 4))
    return out


def test_jacks_take_the_simulators_values(demo):
    # CV over I2C (both MCP4728s), gates and clock on GPIO, drums through SPI and the 595: every
    # jack goes through the same values in the same order on both engines.
    board, sim = demo
    want = _values(sim.signals)
    assert len(want["cv1"]) > 5 and len(want["drum1"]) > 5 and len(want["clock"]) > 5
    assert _values(board.signals) == want


def test_each_gate_rises_after_its_voices_cv_has_settled_and_stays_up_over_1_ms(demo):
    # firmware/cv.py's contracts on the real runtime: CV before gate (the voice's last pitch or
    # mod write before a rise ended at least the pitch stage's settling time earlier), and every
    # gate up more than 1 ms.
    board, _ = demo
    cv = bench_cv.summary_figures(board)
    assert cv["cv_settle_ms"]["count"] > 20 and cv["cv_settle_ms"]["min"] >= bench_cv.PITCH_SETTLE_MS, cv
    assert cv["gate_high_ms"]["count"] > 20 and cv["gate_high_ms"]["min"] > bench_cv.GATE_MIN_MS, cv


def test_a_staccato_note_still_gives_a_gate_over_1_ms(tmp_path):
    # Notes on CV voice 1 whose note-off follows at once or up to 3 ms later: each ends before
    # its gate rose, in the pass after, or later; every gate still stands more than 1 ms.
    lengths_ms = (0.0, 0.3, 0.7, 1.0, 1.5, 2.0, 3.0)
    lines = []
    for k, length in enumerate(lengths_ms):
        t = 20.0 + 30.0 * k
        lines.append((int(t * 1e6), bytes([0x90, 60, 100])))
        lines.append((int((t + length) * 1e6), bytes([0x80, 60, 0])))
    config = (runner.REPO / "config.json").read_text()
    run = engine.board_run(config, {"usb": lines}, until_ms=260, files=FILES)
    cv = bench_cv.summary_figures(run)
    assert cv["gate_high_ms"]["count"] == len(lengths_ms), cv
    assert cv["gate_high_ms"]["min"] > bench_cv.GATE_MIN_MS, cv


def test_din_outputs_keep_wire_timing(demo):
    board, _ = demo
    for port in ("out1", "out2", "out3", "out4"):
        times = [t for t, _ in board.outputs[port]]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert min(gaps) >= 320_000 - 8_000, port  # one byte time, within a PIO clock


def test_no_allocation_or_collection_while_playing(demo):
    board, _ = demo
    figures = board.board
    assert figures["heap_areas_found"] > 0
    assert figures["allocated_bytes_playing"] == 0
    assert figures["gc_collections_playing"] == 0


def test_the_heap_watch_sees_allocations_and_collections():
    run = engine.board_run(None, {"in1": [(10_000_000, b"\xf8"), (400_000_000, b"\xf8")]}, until_ms=450,
                           files=FILES, tree={"code.py": ALLOCATING_LOOP})
    assert run.passes > 100
    assert run.board["allocated_bytes_playing"] > 10_000
    assert run.board["gc_collections_playing"] >= 1


def test_the_simulators_tick_model_steps_where_circuitpythons_ms_tick_does():
    # Each byte ends its stop bit a fixed time after its tick stepped: the loop's pass (a read,
    # a ticks_ms call, at most 60 us) and the byte's 320 us on the wire. Given the board's timer at
    # the first pass, the model must put every step there, the two-raw-tick values included.
    run = engine.board_run(None, {}, until_ms=400, files=FILES, tree={"code.py": TICK_WRITER})
    origin = run.timer_us_at_zero
    assert origin > 1_000_000  # the boot took its time: the steps' phase is not the second's
    # From 60 ms on: something holds this loop for about 50 ms right after its first pass (no
    # step is written meanwhile; cause not known, and the firmware's passes show no such hold).
    wire = [(t, b) for t, b in run.outputs["out1"] if t > 60 * ticks.NS_PER_MS]
    assert len(wire) > 330
    lags = []
    for t, low in wire:
        ms = ticks.ms64(origin, t - wires.BYTE_NS)
        ms -= (ms - low) & 0x7F  # the step whose value the byte carries, at or before
        lags.append(t - ticks.ns_when(origin, ms))
    assert wires.BYTE_NS <= min(lags) and max(lags) < wires.BYTE_NS + 60_000, (min(lags), max(lags))
    long_ticks = [b - a for (a, _), (b, _) in zip(wire, wire[1:]) if b - a > 1_500_000]
    assert long_ticks  # the two-raw-tick values the model has are there on the board too


def test_a_uart_made_before_the_cpu_clock_changes_is_refused():
    # Its divisor was set for a clk_peri of 125 MHz (clk_sys); CircuitPython's clock change leaves
    # clk_peri on the USB PLL's 48 MHz, so its real wire would run at 12,000 baud. The engine's
    # wire keeps 31250 whatever the divisor, so it checks the divisor instead.
    late = CLOCK_AND_UART % (UART_FIRST + "\n" + CLOCK_FIRST)
    with pytest.raises(engine.BoardError, match="UART0 runs at 12000 baud"):
        engine.board_run(None, {}, until_ms=20, files=FILES, tree={"code.py": late.encode()})
    run = engine.board_run(None, {}, until_ms=20, files=FILES,
                           tree={"code.py": (CLOCK_AND_UART % (CLOCK_FIRST + "\n" + UART_FIRST)).encode()})
    assert run.clk_sys_hz == 200_000_000
    # The same CPU cycles in 5/8 of the time: 5 ns a cycle.
    assert run.passes > 100
    assert all(abs(ns - 5 * c) <= 8 for c, ns in zip(run.pass_cycles, run.pass_ns))


def test_usb_packets_carry_whole_messages(demo):
    board, _ = demo
    assert len(board.usb_packets) > 300
    assert usbmidi.whole_message_problems(board.usb_packets) == []
    # Every channel message went out as one packet with its status byte.
    cins = {p[0] & 0x0F for _, p in board.usb_packets}
    assert 0x9 in cins


def test_usb_midi_packets_round_trip():
    lines = [(0, b"\x90\x3c\x64"), (1, b"\x3e\x64"), (2, b"\xf0\x01\x02\x03\x04\xf7\xf8")]
    packets = usbmidi.encode_lines(lines)
    assert [p for _, p in packets][0] == bytes((0x09, 0x90, 0x3C, 0x64))
    assert bytes(b for _, b in usbmidi.packets_to_timed_bytes(packets)) == b"".join(d for _, d in lines)
    assert usbmidi.whole_message_problems(packets)  # the running-status data bytes are flagged


def test_usb_input_and_a_preset_button_as_in_the_simulator():
    lines = [(100_000_000, b"\x90\x3c\x64"), (150_000_000, b"\x3e\x64"),
             (200_000_000, b"\xf0\x01\x02\x03\x04\xf7"), (250_000_000, b"\x80\x3c\x00\xf8")]
    events = [(300_000_000, "press", "button2"), (360_000_000, "release", "button2")]
    config = bench_board.two_preset_config()
    board = engine.board_run(config, {"usb": lines}, events, until_ms=450, files=FILES)
    sim = runner.simulate(config, {"usb": lines}, events, until_ms=450)
    sent = b"".join(data for _, data in lines)
    # Preset 2 routes only to out1 (and the CV engine): the switch ends the note still held
    # (62) on the others, under their running status (the last message was a note-off).
    for port in ("out1", "out2", "out3", "out4"):
        want = sent if port == "out1" else sent + b"\x3e\x00"
        assert bytes(b for _, b in board.outputs[port]) == bytes(b for _, b in sim.outputs[port]) == want, port
    assert board.outputs["usb"] == []  # never echoed back to USB
    # The LED chain (neopixel_write on PIO) shows the same frames: preset 1, then preset 2.
    frames = [bytes(f) for _, f in board.led_frames]
    assert frames == [bytes(f) for _, f in sim.led_frames]
    assert frames[-1][3:6] == frames[0][0:3] and frames[-1][0:3] == bytes(3)


def _firmware_running(code):
    files = {k: v for k, v in engine.install_files(FILES["mpy_cross"]).items() if k.startswith("firmware/")}
    files["code.py"] = code
    return files


def test_pio_input_bytes_lost_to_a_full_rx_fifo_or_ring_are_counted():
    burst = bytes(k & 0x7F for k in range(150))  # back to back: 48 ms of wire
    run = engine.board_run(None, {"in3": [(20_000_000, burst)], "in4": [(20_000_000, burst)]}, until_ms=90,
                           files=FILES, tree=_firmware_running(PIO_UNREAD))
    # in3: its FIFO takes 8, the 9th waits in the program's shift register (its push stalls) and
    # the wire's other bytes pass a receiver that is not listening.
    assert run.counters["in3"] == {"rx_overflow": len(burst) - PIO_RX_FIFO, "rx_misread": 0}
    # in4: the DMA takes every byte into the ring, and writes over the oldest once it is full.
    assert run.counters["in4"] == {"rx_overflow": len(burst) - RX_RING, "rx_misread": 0}
    assert run.passes > 100


def test_a_pio_input_keeps_what_arrives_while_the_loop_stalls_30_ms():
    # 30 ms is twelve times what the RX FIFO alone holds at full rate (2.56 ms).
    burst = bytes(k & 0x7F for k in range(120))
    run = engine.board_run(None, {"in4": [(20_000_000, burst)]}, until_ms=120, files=FILES,
                           tree=_firmware_running(PIO_STALLED_READER))
    assert run.counters["in4"] == {"rx_overflow": 0, "rx_misread": 0}
    assert bytes(b for _, b in run.outputs["out1"]) == burst


def test_unread_bytes_matches_pushes_to_the_wire_in_order():
    byte = 320_000
    wire = [(k * byte, b) for k, b in enumerate(b"\x90\x3c\x64\x80\x3c\x40\xb0\x01\x20")]
    assert engine.unread_bytes(wire, wire) == (0, 0)
    # A push comes up to a bit before the stop bit's end, or late when it waited for room.
    assert engine.unread_bytes(wire, [(t - 20_000, b) for t, b in wire[:3]] + [(wire[-1][0], 0x80)]) == (5, 0)
    # The receiver stalled after the 2nd byte: the 3rd is pushed late, 4 and 5 pass unheard, it
    # resumes inside the 6th and frames 0x7f (no such byte ahead), then hears the rest.
    pushed = wire[:2] + [(wire[5][0], 0x64), (wire[5][0] + 10, 0x7F)] + wire[6:]
    assert engine.unread_bytes(wire, pushed) == (3, 1)
    # A push never matches a byte still on its way.
    assert engine.unread_bytes(wire, [(0, 0x90), (byte, 0x40)]) == (8, 1)


def test_the_mergers_drop_counters_are_read_from_the_board():
    # 72 notes held on in1 (no note-off), 4 ms apart: an output owes at most MAX_OWED offs, so
    # the later note-ons are dropped there and counted (too_many_notes). The count does not
    # depend on timing: the board must read what the simulator's firmware counts.
    lines = [(5_000_000 + 4_000_000 * k, bytes((0x98, 20 + k, 100))) for k in range(72)]
    config = (runner.REPO / "config.json").read_text()
    board = engine.board_run(config, {"in1": lines}, until_ms=340, files=FILES)
    sim = runner.simulate(config, {"in1": lines}, until_ms=340)
    assert board.board["drop_counters_read"]
    for key in ("out1", "out2", "out3", "out4", "usb_out"):
        assert board.counters[key] == sim.counters[key], key
    assert board.counters["out1"]["too_many_notes"] > 0


def test_a_followed_clock_pulses_within_the_clock_latency_target_of_its_f8():
    # A master's clock on in1 (120 BPM, 4 ppqn): each pulse's rising edge after its F8 arrived,
    # held to issue 14's clock max (1.2 ms). The F8 is read a pass after it arrives
    # (CircuitPython's UART moves its FIFO into the ring after the read: docs/board-engine.md),
    # so where the F8 meets the loop matters: 0.33-0.75 ms over inputs shifted by 0-0.3 ms. The
    # first pulse after Start is later (the pulse grid restarts): 1.2-1.6 ms.
    from host_tools import bench_clock

    lines = bench_clock.midi_clock_lines(120, 300, 2)
    result = engine.board_run(bench_clock.clock_config("auto", 120, 4), {"in1": lines}, [], 2500, files=FILES)
    arrivals = [t for t, b in result.inputs["in1"] if b == 0xF8 and t > 300_000_000][::6]
    edges = bench_clock.rising_edges(result)
    assert len(edges) == len(arrivals) == 16
    delays = [(e - t) / 1e6 for e, t in zip(edges, arrivals)]
    assert all(0 < d <= bench_full_rate.CLOCK_MAX_MS for d in delays[1:]), delays
    assert 0 < delays[0] <= 2.0, delays
