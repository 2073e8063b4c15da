#!/bin/sh
# Type-check the code that runs on the board against circuitpython-stubs, with the Raspberry Pi
# Pico's board module selected.
#
#   tests/typecheck.sh [paths...]   default: firmware/ plus code.py and boot.py where present
#
# PYTHON: the interpreter whose environment has mypy and circuitpython-stubs (default: python3).
# MYPY_CACHE_DIR: mypy's cache (mypy's default: .mypy_cache at the repository root). mypy replays
# the errors of an unchanged module from its cache with the path it had then: give files outside
# the tree (temporary files) a cache of their own.
# The board selection (circuitpython_setboard raspberry_pi_pico) rewrites board-stubs in that
# environment; it runs only when the installed board stub is not already the Pico's.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

"$PY" - <<'PYEOF'
import sys
from importlib import resources

BOARD = "raspberry_pi_pico"

def current():
    return resources.files("board-stubs").joinpath("__init__.pyi").read_bytes()

wanted = resources.files("board_definitions").joinpath(BOARD).joinpath("__init__.pyi").read_bytes()
if current() != wanted:
    import circuitpython_setboard
    sys.argv = ["circuitpython_setboard", BOARD]
    circuitpython_setboard.set_board()
    if current() != wanted:
        sys.exit("typecheck.sh: circuitpython_setboard did not install the %s board stub" % BOARD)
    print("typecheck.sh: board stubs set to %s" % BOARD, file=sys.stderr)
PYEOF

if [ "$#" -eq 0 ]; then
    set -- firmware
    for f in code.py boot.py; do
        if [ -f "$f" ]; then set -- "$@" "$f"; fi
    done
fi
exec "$PY" -m mypy --config-file tests/mypy.ini "$@"
