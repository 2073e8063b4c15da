"""Run Python code in MicroPython (1.27, WebAssembly build) under node, for Thruway's tests.

The firmware runs on CircuitPython, a MicroPython derivative; this VM is the closest interpreter
the test suite can run. It catches what CPython lets pass: CPython-only modules and syntax,
unsupported operations (``bytearray * int``), allocations on a path that must allocate nothing,
and heap use.

Public API::

    run(script, files=None, timeout=60, *, sys_path=("/fw",), heapsize=RP2040_HEAP_BYTES,
        import_guard=True) -> str
        Run ``script`` (a string, or a list of strings run one after the other in the same VM,
        each its own top-level run) and return its stdout. ``files`` maps VM paths to source
        text; None means firmware_files() (every firmware/*.py at /fw/firmware/...). The
        harness module is always added as /fw/mpharness.py. Raises MicroPythonError (a Python
        exception escaped; .exc_type, .traceback, .stdout) or MicroPythonTimeout (.stdout).
    firmware_files(root=REPO_ROOT, dest="/fw") -> dict[str, str]
    harness_files() -> dict[str, str]
    parse_report(stdout) -> Report  ({"alloc": {name: bytes}, "heaplock": {name: "ok"|...},
                                      "heap": {name: bytes}})
    assert_no_alloc(report, name)       the ALLOC line is 0 and HEAPLOCK is ok
    assert_heap_under(report, name, budget=HEAP_BUDGET_BYTES)
    require_vm() -> (node path, runner path)   raises MPVMSetupError if node or the npm
                                               package is missing

VM side (``import mpharness`` inside a script): check_no_alloc(name, fn, warmup=1),
report_heap(name), install_import_guard() / remove_import_guard(), VM_ONLY_MODULES.

Facts about this VM that shape the mechanism (measured with 1.27.0):
- ``heapsize`` does not cap memory: the heap is split and grows (gc.mem_free() ~134 MB). Heap
  use must be measured with gc.mem_alloc() and compared with a budget.
- An allocation inside micropython.heap_lock() raises MemoryError, but if that error escapes to
  the top level with the lock held (or the handler allocates, e.g. ``except ... as e`` binding
  a module-level name) the VM spins forever. So mpharness.check_no_alloc measures first and
  only locks when the measurement was 0, and the runner stops the VM after ``timeout``.
- gc.collect() does not free garbage created earlier in the same top-level run (it stays
  referenced from the VM's stack until the run returns to JavaScript). Garbage from an earlier
  run is freed. Measure the live heap (report_heap) in a separate script step: pass a list.
- The VM is 32-bit (wasm32, 31-bit small ints) like the RP2040 build, so object sizes compare.
- The VM has modules CircuitPython's Pico build lacks (functools, abc, itertools, logging, ...,
  plus "u"-prefixed aliases such as utime); the import guard (on by default) makes importing
  them fail as it would on the board. Its ``time`` has ticks_ms() etc. but no monotonic().
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import TypedDict

REPO_ROOT = Path(__file__).resolve().parent.parent
MPVM_DIR = REPO_ROOT / "tests" / "mpvm"
RUNNER = MPVM_DIR / "runner.mjs"
HARNESS = MPVM_DIR / "harness.py"
NPM_PACKAGE = "@micropython/micropython-webassembly-pyscript"
VM_ROOT = "/fw"

# The RP2040 has 264 KB of RAM; CircuitPython's Pico build gives the Python heap about 192 KB,
# and about 187 KB of it is free at boot (docs/design.md, "Heap").
RP2040_HEAP_BYTES = 192 * 1024
BOOT_FREE_BYTES = 187 * 1024
# What a scenario may keep live after start-up: the free heap at boot minus 32 KB kept for
# fragmentation and the transient allocations of start-up and of CircuitPython itself.
HEAP_BUDGET_BYTES = BOOT_FREE_BYTES - 32 * 1024

# Runner exit codes (tests/mpvm/runner.mjs).
_EXIT_PYTHON_ERROR = 1
_EXIT_TIMEOUT = 3


class MPVMSetupError(RuntimeError):
    """node or the npm package is missing: the tests cannot run (this is a failure, not a skip)."""


class MicroPythonError(Exception):
    """A Python exception escaped the script in the MicroPython VM."""

    def __init__(self, traceback: str, stdout: str = "") -> None:
        self.traceback = traceback
        self.stdout = stdout
        last = traceback.strip().splitlines()[-1] if traceback.strip() else ""
        self.exc_type = last.split(":", 1)[0].strip() if last else ""
        super().__init__(traceback if not stdout else f"{traceback}\n--- stdout ---\n{stdout}")


class MicroPythonTimeout(Exception):
    """The VM did not finish in time (an endless loop, or an allocation under heap_lock)."""

    def __init__(self, message: str, stdout: str = "") -> None:
        self.stdout = stdout
        super().__init__(message if not stdout else f"{message}\n--- stdout ---\n{stdout}")


class Report(TypedDict):
    alloc: dict[str, int]
    heaplock: dict[str, str]
    heap: dict[str, int]


def require_vm() -> tuple[str, Path]:
    """Return (node, runner); raise MPVMSetupError with what to do if something is missing."""
    node = os.environ.get("THRUWAY_NODE") or shutil.which("node")
    if not node:
        raise MPVMSetupError(
            "node (Node.js >= 18) is not on PATH: the MicroPython tests need it. Install Node.js, then run `make test`."
        )
    package = MPVM_DIR / "node_modules" / NPM_PACKAGE / "package.json"
    if not package.is_file():
        raise MPVMSetupError(
            f"{NPM_PACKAGE} is not installed in {MPVM_DIR / 'node_modules'}: run `make test` "
            "(it runs `cd tests/mpvm && npm ci`)."
        )
    return node, RUNNER


def _python_sources(directory: Path) -> list[Path]:
    """Every *.py under directory, without hidden files (editors' temporaries) and caches."""
    found = []
    for path in sorted(directory.rglob("*.py")):
        rel = path.relative_to(directory)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        found.append(path)
    return found


def firmware_files(root: Path | str = REPO_ROOT, dest: str = VM_ROOT) -> dict[str, str]:
    """Every *.py under root/firmware/, keyed by its VM path dest/firmware/...."""
    root = Path(root)
    return {
        f"{dest}/{path.relative_to(root).as_posix()}": path.read_text(encoding="utf-8")
        for path in _python_sources(root / "firmware")
    }


def harness_files(dest: str = VM_ROOT) -> dict[str, str]:
    return {f"{dest}/mpharness.py": HARNESS.read_text(encoding="utf-8")}


def run(
    script: str | list[str],
    files: dict[str, str] | None = None,
    timeout: float = 60,
    *,
    sys_path: tuple[str, ...] | list[str] = (VM_ROOT,),
    heapsize: int = RP2040_HEAP_BYTES,
    import_guard: bool = True,
) -> str:
    """Run script in the MicroPython VM and return its stdout (see the module docstring)."""
    node, runner = require_vm()
    job_files = dict(firmware_files() if files is None else files)
    for path, text in harness_files().items():
        job_files.setdefault(path, text)
    scripts = [script] if isinstance(script, str) else list(script)
    job = {
        "files": job_files,
        "sys_path": list(sys_path),
        "prelude": "import mpharness\nmpharness.install_import_guard()\n" if import_guard else "",
        "scripts": scripts,
        "heapsize": heapsize,
        "timeout_ms": int(timeout * 1000),
    }
    try:
        proc = subprocess.run(
            [node, str(runner)],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            cwd=MPVM_DIR,
            # The runner stops the VM itself after `timeout`; this is the backstop.
            timeout=timeout + 30,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        raise MicroPythonTimeout(f"node did not exit within {timeout + 30} s; killed", out) from None
    if proc.returncode == 0:
        return proc.stdout
    if proc.returncode == _EXIT_PYTHON_ERROR:
        raise MicroPythonError(proc.stderr, proc.stdout)
    if proc.returncode == _EXIT_TIMEOUT:
        raise MicroPythonTimeout(proc.stderr.strip(), proc.stdout)
    raise MPVMSetupError(f"the MicroPython runner failed (exit {proc.returncode}):\n{proc.stderr}")


def parse_report(stdout: str) -> Report:
    """Collect the ALLOC / HEAPLOCK / HEAP lines printed by mpharness."""
    report: Report = {"alloc": {}, "heaplock": {}, "heap": {}}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        kind, name, value = parts
        if kind == "ALLOC":
            report["alloc"][name] = int(value)
        elif kind == "HEAPLOCK":
            report["heaplock"][name] = value
        elif kind == "HEAP":
            report["heap"][name] = int(value)
    return report


def assert_no_alloc(report: Report, name: str) -> None:
    if name not in report["alloc"]:
        raise AssertionError(f"no ALLOC line for {name!r} in the report")
    used = report["alloc"][name]
    if used != 0:
        raise AssertionError(f"{name}: one call allocated {used} bytes; it must allocate nothing")
    lock = report["heaplock"].get(name)
    if lock != "ok":
        raise AssertionError(f"{name}: the call under micropython.heap_lock() gave {lock!r}, not 'ok'")


def assert_heap_under(report: Report, name: str, budget: int = HEAP_BUDGET_BYTES) -> None:
    if name not in report["heap"]:
        raise AssertionError(f"no HEAP line for {name!r} in the report")
    used = report["heap"][name]
    if used > budget:
        raise AssertionError(f"{name}: {used} bytes live on the heap, over the budget of {budget}")
