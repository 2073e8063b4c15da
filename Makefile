# Thruway: the two commands a new user needs are `make demo` and `make test`.
# Both create .venv and install the pinned requirements (Python 3.11, node/npm and make only).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := tests/mpvm/node_modules/.installed
DEMO_OUT ?= out/demo

.PHONY: demo test bench lint clean

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

demo: $(STAMP)
	$(PY) -m host_tools sim --in in1=examples/demo/keystep.txt --in in2=examples/demo/digitakt.txt --out $(DEMO_OUT)

test: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/pytest

bench: $(STAMP) $(NODE_STAMP)
	$(PY) -m host_tools bench

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) tests/mpvm/node_modules out
