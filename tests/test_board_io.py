"""The hardware layer: its PIO programs are the ones adafruit_pio_uart assembles, and it builds
every port on the simulated Pico."""

import array

import adafruit_pioasm

from host_tools import fwimport

RX_SOURCE = """.program midi_rx
start:
  wait 0 pin 0
  set x, 7 [10]
bitloop:
  in pins, 1
  jmp x-- bitloop [6]
  jmp pin good_stop
  wait 1 pin 0
  jmp start
good_stop:
  in null, 24
  push
"""
TX_SOURCE = """.program midi_tx
.side_set 1 opt
  pull side 1 [7]
  set x, 7 side 0 [7]
bitloop:
  out pins, 1
  jmp x-- bitloop [6]
"""
# The clock's PIO timers (board_io's comments give the cycle accounting).
METRONOME_SOURCE = """.program metronome
    pull block
.wrap_target
    mov x, osr
loop:
    jmp x-- poll
    push block [2]
.wrap
poll:
    mov y, status
    jmp !y take
    jmp loop [1]
take:
    pull noblock
    jmp loop
"""
ONE_SHOT_SOURCE = """.program one_shot
    pull block
    mov x, osr
loop:
    jmp x-- loop
    push block
"""


def _board_io_source_constants():
    # board_io imports hardware modules; read its constants without importing it on the host.
    import ast
    from pathlib import Path

    tree = ast.parse((Path(fwimport.REPO) / "firmware" / "board_io.py").read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name.startswith("PIO_") and name.endswith("_PROGRAM"):
                call = node.value
                found[name] = [elt.value for elt in call.args[1].elts]
            elif name.endswith("_HZ"):
                value = node.value  # a literal, or const(literal)
                found[name] = (value.args[0] if isinstance(value, ast.Call) else value).value
        elif isinstance(node, ast.FunctionDef):
            # The keyword arguments of the StateMachine each function builds.
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "StateMachine":
                    found[node.name] = {k.arg: getattr(k.value, "value", None) for k in call.keywords}
    return found


def test_pio_programs_match_the_assembler():
    consts = _board_io_source_constants()
    assert consts["PIO_RX_PROGRAM"] == list(adafruit_pioasm.assemble(RX_SOURCE))
    assert consts["PIO_TX_PROGRAM"] == list(adafruit_pioasm.Program(TX_SOURCE).assembled)
    assert isinstance(adafruit_pioasm.assemble(RX_SOURCE), array.array)


def test_clock_pio_programs_match_the_assembler():
    consts = _board_io_source_constants()
    metronome = adafruit_pioasm.Program(METRONOME_SOURCE)
    assert consts["PIO_METRONOME_PROGRAM"] == list(metronome.assembled)
    kwargs = consts["_metronome"]
    assert kwargs["wrap_target"] == metronome.pio_kwargs["wrap_target"] == 1
    assert kwargs["wrap"] == metronome.pio_kwargs["wrap"] == 3
    # "mov y, status" must read all ones while the TX FIFO is empty: level < 1.
    assert kwargs["mov_status_type"] == "txfifo" and kwargs["mov_status_n"] == 1
    assert consts["PIO_ONE_SHOT_PROGRAM"] == list(adafruit_pioasm.assemble(ONE_SHOT_SOURCE))
    # 125 MHz / 25 and / 125: integer dividers (no fractional divider jitter).
    assert 125_000_000 % consts["METRONOME_HZ"] == 0 and 125_000_000 % consts["ONE_SHOT_HZ"] == 0
    assert consts["METRONOME_HZ"] == 5_000_000 and consts["ONE_SHOT_HZ"] == 1_000_000


def _pio_world():
    """A bare simulated world and the fake rp2pio (loaded under its own name), for PIO models."""
    import importlib.util

    from host_tools.sim import runner
    from host_tools.sim import world as _world

    w = _world.install(_world.World())
    spec = importlib.util.spec_from_file_location("fake_rp2pio_under_test", runner.FAKES / "rp2pio.py")
    rp2pio = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rp2pio)
    return w, rp2pio


def _program(name):
    return array.array("H", _board_io_source_constants()[name])


def test_metronome_counts_each_word_to_the_microsecond():
    from host_tools.sim import world as _world

    w, rp2pio = _pio_world()
    try:
        sm = rp2pio.StateMachine(_program("PIO_METRONOME_PROGRAM"), frequency=5_000_000, wrap_target=1, wrap=3,
                                 mov_status_type="txfifo", mov_status_n=1, fifo_type="txrx")
        word = array.array("I", [0])
        tokens = bytearray(8)
        w.advance_to(1_000_000)
        lengths = [10_000, 10_417, 4_167, 62_500, 9_375]  # us
        for n in lengths[:2]:  # the first to count, and the next (into its OSR) at once
            word[0] = n - 1
            sm.write(word)
        for n in lengths[2:]:
            while not sm.in_waiting:  # one word ahead: the next goes in while one counts
                w.advance_to(w.now_ns + 50_000)
            sm.readinto(tokens, end=sm.in_waiting)
            t0 = w.now_ns
            word[0] = n - 1
            sm.write(word)
            assert w.now_ns - t0 <= 1_000 + 10_000  # taken within a count (and the call's own cost)
        w.advance_to(w.now_ns + 200_000_000)
        pushes = sm.push_times
        # Token to token: exactly the word + 1 us, each interval straight after the last; given
        # nothing new the last one is counted again.
        assert [b - a for a, b in zip(pushes, pushes[1:5])] == [n * 1000 for n in lengths[1:]]
        assert [b - a for a, b in zip(pushes[4:], pushes[5:])] == [lengths[-1] * 1000] * (len(pushes) - 5)
        # Four tokens unread fill the RX FIFO: the blocking push stalls it.
        assert sm.in_waiting == 4 and sm.rxstall
        sm.restart()  # back to its first pull: nothing more until a word comes
        sm.clear_rxfifo()
        n = len(sm.push_times)
        w.advance_to(w.now_ns + 100_000_000)
        assert sm.in_waiting == 0 and not sm.rxstall and len(sm.push_times) == n
    finally:
        _world.uninstall()


def test_one_shot_pushes_its_token_the_word_plus_4_us_after_the_write():
    from host_tools.sim import world as _world

    w, rp2pio = _pio_world()
    try:
        shot = rp2pio.StateMachine(_program("PIO_ONE_SHOT_PROGRAM"), frequency=1_000_000, fifo_type="txrx")
        word = array.array("I", [5_000 - 4])
        w.advance_to(3_000_000)
        shot.write(word)  # (the call itself takes about 10 us)
        w.advance_to(3_000_000 + 20_000_000)
        assert shot.in_waiting == 1 and len(shot.push_times) == 1
        assert 0 <= shot.push_times[0] - (3_000_000 + 5_000_000) <= 10_000 + 1_000
    finally:
        _world.uninstall()


def test_state_machines_and_instruction_memory_fit_the_rp2040():
    # Every DIN port, the metronome and the one-shot: 6 of the 8 state machines, each PIO block
    # within its 32 instruction words (a program shared by the state machines that run it), one
    # left for neopixel_write, which borrows one per LED write.
    from host_tools.sim import runner
    from host_tools.sim import world as _world

    seen = []
    real_install = _world.install

    def install(w):
        seen.append(w)
        return real_install(w)

    _world.install = install
    try:
        result = runner.simulate(None, {}, until_ms=50)
    finally:
        _world.install = real_install
    w = seen[0]
    assert "fault:" not in result.console and result.led_frames
    blocks = w.pio_blocks
    assert sum(b["sms"] for b in blocks) == w.pio_state_machines[0] == 6
    for b in blocks:
        assert b["sms"] <= 4 and sum(b["used"]) == sum(p[2] for p in b["programs"].values()) <= 32
    assert sorted(p[2] for b in blocks for p in b["programs"].values()) == [4, 4, 9, 9]  # tx, one-shot, rx, metronome


def test_every_port_starts_on_the_simulated_pico():
    from host_tools.sim import runner

    result = runner.simulate(None, {"in3": [(0, bytes([0x90, 0x3C, 0x64]))],
                                    "in4": [(0, bytes([0xF8]))]}, until_ms=20)
    assert "fault:" not in result.console  # every UART, PIO port and USB started
    assert "config error: config.json: not found" in result.console  # reported on the console...
    for port in ("out1", "out2", "out3", "out4", "usb"):
        got = bytes(b for _, b in result.outputs[port])
        assert got.count(b"\x90\x3c\x64") == 1 and got.count(b"\xf8") == 1, port
    assert result.config_errors and "not found" in result.config_errors[0]  # ...in its errors
