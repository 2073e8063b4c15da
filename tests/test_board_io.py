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


def _board_io_source_constants():
    # board_io imports hardware modules; read its constants without importing it on the host.
    import ast
    from pathlib import Path

    tree = ast.parse((Path(fwimport.REPO) / "firmware" / "board_io.py").read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in ("PIO_RX_PROGRAM", "PIO_TX_PROGRAM"):
                call = node.value
                found[name] = [elt.value for elt in call.args[1].elts]
    return found


def test_pio_programs_match_the_assembler():
    consts = _board_io_source_constants()
    assert consts["PIO_RX_PROGRAM"] == list(adafruit_pioasm.assemble(RX_SOURCE))
    assert consts["PIO_TX_PROGRAM"] == list(adafruit_pioasm.Program(TX_SOURCE).assembled)
    assert isinstance(adafruit_pioasm.assemble(RX_SOURCE), array.array)


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
