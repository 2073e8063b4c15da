"""Type-check the board code (firmware/, code.py, boot.py) against the real CircuitPython API.

mypy runs through tests/typecheck.sh (which selects the Pico's board stub with
circuitpython_setboard) with tests/mypy.ini, on the interpreter running these tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TYPECHECK = REPO_ROOT / "tests" / "typecheck.sh"
STUBS = REPO_ROOT / "tests" / "stubs"


def typecheck(*paths: str | Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """Run tests/typecheck.sh with this interpreter; a fresh cache per test (about 0.8 s cold)."""
    env = dict(os.environ, PYTHON=sys.executable, MYPY_CACHE_DIR=str(cache))
    return subprocess.run(
        ["sh", str(TYPECHECK), *map(str, paths)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def errors_by_line(output: str, path: Path) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for m in re.finditer(rf"^{re.escape(str(path))}:(\d+): error: (.*)$", output, re.M):
        found.setdefault(int(m.group(1)), []).append(m.group(2))
    return found


def test_board_code_type_checks(tmp_path: Path) -> None:
    assert any((REPO_ROOT / "firmware").glob("*.py")), "firmware/ has no modules"
    result = typecheck(cache=tmp_path / "cache")
    assert result.returncode == 0, f"mypy found errors:\n{result.stdout}{result.stderr}"


def test_pico_board_stub_selected(tmp_path: Path) -> None:
    typecheck("--version", cache=tmp_path / "cache")  # runs the board selection step only
    installed = resources.files("board-stubs").joinpath("__init__.pyi").read_text()
    assert "board_id: raspberry_pi_pico" in installed
    assert re.search(r"^GP28: microcontroller\.Pin", installed, re.M)


def test_wrong_calls_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "thruway_bad_calls.py"
    lines = [
        "import board, busio, digitalio, rp2pio, time, usb_midi",
        'uart = busio.UART(board.GP0, board.GP1, baudrate="31250")',  # 2: str baudrate
        "pin = board.GP99",  # 3: no such pin on the Pico
        'led = digitalio.DigitalInOut("GP25")',  # 4: a name, not a Pin
        "usb_midi.ports[1].write(5)",  # 5: PortIn/PortOut union; an int is no buffer
        "sm = rp2pio.StateMachine(b'', frequency=1000, first_in_pin=3)",  # 6: pin as int
        "t = time.ticks_ms()",  # 7: MicroPython's time, not CircuitPython's
        "def untyped(u):",
        "    busio.I2C(board.GP9, board.GP8, frequency='400k')",  # 9: checked in untyped defs
    ]
    bad.write_text("\n".join(lines) + "\n")
    good = tmp_path / "thruway_good_calls.py"
    good.write_text(
        "import board, busio, digitalio, gc, supervisor, usb_midi\n"
        "from micropython import const\n"
        "uart = busio.UART(board.GP0, board.GP1, baudrate=31250, timeout=0, receiver_buffer_size=256)\n"
        "buf = bytearray(64)\n"
        "n = uart.readinto(buf)\n"
        "gate = digitalio.DigitalInOut(board.GP10)\n"
        "gate.direction = digitalio.Direction.OUTPUT\n"
        "gate.value = True\n"
        "usb_midi.set_names(streaming_interface_name='Thruway MIDI')\n"
        "port = usb_midi.ports[0]\n"
        "if isinstance(port, usb_midi.PortIn):\n"
        "    got = port.readinto(buf)\n"
        "    if got is not None and got > 0:\n"
        "        pass\n"
        "X = const(3)\n"
        "free = gc.mem_free() + X\n"
        "now = supervisor.ticks_ms()\n"
    )
    result = typecheck(bad, good, cache=tmp_path / "cache")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    errs = errors_by_line(out, bad)
    for line in (2, 3, 4, 5, 6, 7, 9):
        assert line in errs, f"no mypy error on line {line}: {lines[line - 1]!r}\n{out}"
    assert "GP99" in " ".join(errs[3])
    assert "baudrate" in " ".join(errs[2])
    assert not errors_by_line(out, good), f"errors on correct code:\n{out}"


def test_usb_midi_stub_override_still_needed() -> None:
    """tests/stubs/usb_midi.pyi is the installed stub plus two fixes, nothing else."""
    installed = resources.files("usb_midi-stubs").joinpath("__init__.pyi").read_text()
    override = (STUBS / "usb_midi.pyi").read_text()
    body = "".join(line for line in override.splitlines(keepends=True) if not line.startswith("# "))
    bug_self = "def set_names(\n    self,\n    *,"
    bug_readinto = "nbytes: Optional[int] = None\n    ) -> Optional[bytes]:"
    assert bug_self in installed or bug_readinto in installed, (
        "circuitpython-stubs' usb_midi stub is fixed: delete tests/stubs/usb_midi.pyi"
    )
    patched = installed.replace(bug_self, "def set_names(\n    *,").replace(
        bug_readinto, "nbytes: Optional[int] = None\n    ) -> Optional[int]:"
    )
    assert body == patched, (
        "tests/stubs/usb_midi.pyi no longer matches the installed circuitpython-stubs usb_midi stub "
        "(plus its two fixes): regenerate it from the installed stub"
    )


def test_circuitpython_stubs_in_tests_stubs_are_used(tmp_path: Path) -> None:
    """gc.mem_free (not in typeshed's CPython gc) and usb_midi.set_names (wrong in the stubs)."""
    probe = tmp_path / "thruway_probe_local_stubs.py"
    probe.write_text(
        "import gc, usb_midi\nx: int = gc.mem_free() + gc.mem_alloc()\nusb_midi.set_names(in_jack_name='in')\n"
    )
    result = typecheck(probe, cache=tmp_path / "cache")
    assert result.returncode == 0, result.stdout + result.stderr
