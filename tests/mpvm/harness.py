# Thruway test harness, MicroPython side. tests/mpvm.py ships this file into the VM as
# /fw/mpharness.py. It runs on MicroPython 1.27 (WebAssembly), never on the board: it uses
# micropython.heap_lock(), which CircuitPython does not have.
#
# Report lines (one per line on stdout; tests/mpvm.py parse_report() reads them):
#   ALLOC <name> <bytes>          bytes allocated by one call of the steady-state function
#   HEAPLOCK <name> ok            a further call ran inside micropython.heap_lock() without error
#   HEAPLOCK <name> skipped       not tried, because ALLOC was not 0
#   HEAPLOCK <name> MemoryError   the call allocated under the lock (the lock was released first)
#   HEAP <name> <bytes>           gc.mem_alloc() after gc.collect()
import builtins
import gc
import os
import sys

import micropython

# Modules this VM has (built in or frozen) that CircuitPython 10's Pico build does not have.
# The CircuitPython list is the "Included modules" line of the circuitpython-stubs board
# definition raspberry_pi_pico; tests/test_runtime_compat.py keeps the two lists in step.
VM_ONLY_MODULES = (
    "abc",
    "asyncio",
    "base64",
    "cmath",
    "copy",
    "datetime",
    "deflate",
    "fnmatch",
    "framebuf",
    "functools",
    "gzip",
    "heapq",
    "hmac",
    "html",
    "inspect",
    "itertools",
    "js",
    "jsffi",
    "logging",
    "operator",
    "pathlib",
    "platform",
    "stat",
    "string",
    "tarfile",
    "types",
    "uctypes",
    "unittest",
    "uu",
    "vfs",
)
# Names the VM also accepts with a "u" prefix (utime, ustruct, ...); CircuitPython does not.
_U_ALIASED = (
    "array",
    "asyncio",
    "binascii",
    "collections",
    "errno",
    "hashlib",
    "heapq",
    "io",
    "json",
    "os",
    "platform",
    "random",
    "re",
    "select",
    "struct",
    "sys",
    "time",
)
# Names inside allowed modules that CircuitPython lacks: (module, name) for "from m import name"
# and "m.name" submodule imports.
_VM_ONLY_NAMES = (("collections", "defaultdict"), ("os", "path"))

_original_import = None


def _on_file_system(top):
    # A module shipped as a file or directory on sys.path (the project's own code, a library
    # copied into the job) is allowed whatever its name.
    for p in sys.path:
        if not p or p == ".frozen":
            continue
        for candidate in (p + "/" + top + ".py", p + "/" + top + ".mpy", p + "/" + top):
            try:
                os.stat(candidate)
                return True
            except OSError:
                pass
    return False


def _vm_only(name, fromlist):
    parts = name.split(".")
    top = parts[0]
    if top in VM_ONLY_MODULES:
        return top
    if top.startswith("u") and top[1:] in _U_ALIASED:
        return top
    for mod, attr in _VM_ONLY_NAMES:
        if top == mod:
            if len(parts) > 1 and parts[1] == attr:
                return name
            if parts == [mod] and fromlist and attr in fromlist:
                return mod + "." + attr
    return None


def _guarded_import(name, *args):
    level = args[3] if len(args) > 3 else 0
    if level == 0:
        fromlist = args[2] if len(args) > 2 else None
        bad = _vm_only(name, fromlist)
        if bad is not None and not _on_file_system(name.split(".")[0]):
            raise ImportError("no module named '%s' (MicroPython has it, CircuitPython's Pico build does not)" % bad)
    return _original_import(name, *args)


def install_import_guard():
    """Make imports of modules CircuitPython's Pico build lacks fail with ImportError."""
    global _original_import
    if _original_import is None:
        _original_import = builtins.__import__
        builtins.__import__ = _guarded_import


def remove_import_guard():
    global _original_import
    if _original_import is not None:
        builtins.__import__ = _original_import
        _original_import = None


def _check_name(name):
    if not name or " " in name or "\t" in name or "\n" in name:
        raise ValueError("report names must be non-empty and without whitespace: %r" % (name,))


def check_no_alloc(name, fn, warmup=1):
    """Prove that one call of fn() allocates nothing; return the bytes one call allocated.

    Calls fn() `warmup` times, then measures gc.mem_alloc() over one call with the collector
    disabled (exact: nothing is freed meanwhile) and prints ALLOC. Only if that is 0 it calls
    fn() once more inside micropython.heap_lock() (which in this VM can hang on an escaping
    allocation, hence the measurement first) and prints HEAPLOCK. gc is re-enabled at the end.
    """
    _check_name(name)
    for _ in range(warmup):
        fn()
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        fn()
        used = gc.mem_alloc() - before
        print("ALLOC", name, used)
        if used != 0:
            print("HEAPLOCK", name, "skipped")
            return used
        result = "ok"
        try:
            micropython.heap_lock()
            try:
                fn()
            finally:
                micropython.heap_unlock()
        except MemoryError:
            result = "MemoryError"
        print("HEAPLOCK", name, result)
        return used
    finally:
        if was_enabled:
            gc.enable()


def report_heap(name):
    """Print HEAP <name> <bytes live after a collection>; return the bytes.

    In this VM a collection does not free garbage made earlier in the same runPython call (see
    tests/mpvm.py): call this in its own script step for an exact figure.
    """
    _check_name(name)
    gc.collect()
    used = gc.mem_alloc()
    print("HEAP", name, used)
    return used
