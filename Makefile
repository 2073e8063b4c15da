# Thruway: the two commands a new user needs are `make demo` and `make test`.
# Both create .venv and install the pinned requirements (Python 3.11, node/npm and make only).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := tests/mpvm/node_modules/.installed
BOARD_STAMP := host_tools/board/node_modules/.installed
# The board engine's CircuitPython files (docs/board-engine.md); CI keeps them in ../shared.
SHARED_CP := ../shared/circuitpython
ifneq ($(wildcard $(SHARED_CP)/rp2040-bootrom-B1.bin),)
export CIRCUITPY_UF2 ?= $(abspath $(SHARED_CP)/circuitpython-10.3.0-alpha.4-raspberry_pi_pico.uf2)
export CIRCUITPY_MPY_CROSS ?= $(abspath $(SHARED_CP)/mpy-cross-10.3.0-alpha.4-linux-x86_64)
export CIRCUITPY_BOOTROM ?= $(abspath $(SHARED_CP)/rp2040-bootrom-B1.bin)
endif
DEMO_OUT ?= out/demo

.PHONY: demo test bench fuzz lint clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	# circuitpython-stubs: type-check against the Raspberry Pi Pico's board pins
	$(VENV)/bin/circuitpython_setboard raspberry_pi_pico
	touch $@

$(NODE_STAMP): tests/mpvm/package.json tests/mpvm/package-lock.json
	cd tests/mpvm && npm ci --silent --no-audit --no-fund
	touch $@

$(BOARD_STAMP): host_tools/board/package.json host_tools/board/package-lock.json
	cd host_tools/board && npm ci --silent --no-audit --no-fund
	touch $@

demo: $(STAMP)
	$(PY) -m host_tools sim --in in1=examples/demo/keystep.txt --in in2=examples/demo/digitakt.txt --out $(DEMO_OUT)

test: $(STAMP) $(NODE_STAMP) $(BOARD_STAMP)
	$(VENV)/bin/pytest

bench: $(STAMP) $(NODE_STAMP) $(BOARD_STAMP)
	$(PY) -m host_tools bench

# The merge fuzz job, long: 10^6 bytes per input through the real Box at saturation, checked by
# the reference model (tests/merge_model.py); prints the figures (all 0 but the bytes).
fuzz: $(STAMP)
	$(PY) tests/merge_fuzz.py --bytes 1000000

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) tests/mpvm/node_modules host_tools/board/node_modules out
