"""The box: the layers wired together, and the main loop.

Data flows one way each pass: ports -> ``Merger.feed`` (parse, route, queue; direct sends to
idle outputs) -> ``Merger.service`` (timeouts, once a ms tick) -> ``Merger.write_outputs``
(what is queued) -> ports. ``code.py`` calls ``run()`` on the board and in the simulator
alike; ``firmware.start`` builds the box first and then leaves the heap.
"""

import gc

from firmware import router
from firmware.clock import DEFAULT_CLOCK, Clock, clock_outputs
from firmware.clock import prepare as prepare_clock
from firmware.merger import MASTER_AUTO, MASTER_INTERNAL, Merger
from firmware.panel import ACTION_PRESET, ACTION_START_STOP, ACTION_TAP
from firmware.ports import READ_SIZE

WATCHDOG_S = 2.0  # a main loop stuck this long restarts the box (into its last preset: NVM)

box = None  # type: Box | None  # the running Box, for the serial console and the simulator's summary


class Box:
    """Everything the main loop touches, wired together once at start-up."""

    def __init__(self, inputs, outputs, ticks_ms, settings, errors=(), clock=None):
        self.inputs = inputs
        self.outputs = outputs
        self.ticks_ms = ticks_ms
        self.errors = list(errors)
        self.merger = Merger(len(inputs), len(outputs))
        self.merger.outputs = outputs
        for o in range(len(outputs)):
            if outputs[o] is None:
                self.merger.present &= ~(1 << o)
        # The CV engine is the internal output ``cv`` (None when a Box is built without it).
        # It is fed whole messages, each with its status byte.
        self.cv = outputs[router.CV_OUTPUT] if len(outputs) > router.CV_OUTPUT else None
        # Running status per DIN output (config ``outputs``). Never on USB: a USB-MIDI packet
        # carries one whole message, and TinyUSB sends running-status data bytes as single-byte
        # packets (code index 0xF) that hosts do not take as messages (docs/board-engine.md).
        # Never into the CV engine, which wants every message whole. Direct sends: not to the
        # CV engine either, whose gates rise a pass after its CV is written.
        port_settings = settings.get("outputs", {})
        rs = 0
        for o in range(min(len(outputs), router.CV_OUTPUT)):
            if o != router.USB_OUTPUT and port_settings.get(router.OUTPUTS[o], {}).get("running_status", True):
                rs |= 1 << o
        self.merger.set_output_modes(rs, self.merger.present & ~(1 << router.CV_OUTPUT))
        # The clock: tempo, transport and the clock/reset/run jacks (jackless when none given).
        self.clock = clock if clock is not None else Clock(None, None, None, None, ticks_ms)
        self.merger.clock_sink = self.clock
        # The inputs that exist, with their index and reader (firmware.ports: a stream's own
        # readinto where it never waits): the pass polls them without a None test.
        self.polled = [(i, getattr(inputs[i], "reader", inputs[i].read)) for i in range(len(inputs))
                       if inputs[i] is not None]
        self.tick = -1  # the ms tick the once-a-tick work last ran in
        self.buf = bytearray(READ_SIZE)
        whole = memoryview(self.buf)
        self.views = [whole[:n] for n in range(READ_SIZE + 1)]
        # Every preset's routing tables and what a switch reads, built once (firmware.start).
        from firmware import start

        self.routing, self.settings = start.presets(self.merger, self.cv, settings, len(inputs), len(outputs))
        # What a switch installs, per preset, read once here: the clock setup, clock outputs and
        # master for the merger, the CV setup (nothing parsed or allocated
        # while playing).
        self.switches = self._switches()
        # The sections themselves are not kept (the heap): a preset keeps its name.
        for preset in self.settings["presets"]:
            preset.pop("cv", None)
            preset.pop("clock", None)
        self.preset = 0
        self.cv_due = -1  # a preset whose CV setup the next ms tick installs (switch_preset)
        self.cv_refresh = False  # its DAC codes: the tick after that
        self.announce = -1  # a preset whose console line the tick after that prints
        self.panel = None  # firmware.panel.Panel, attached by start.build() (tests may leave it out)
        self.select_preset(0)

    def _switches(self):
        # Per preset: (clock setup, clock outputs' send mask, their dividers, master mode, CV
        # setup). Presets with the same clock object share its part.
        clocks = []  # type: list  # (clock object, its part of the entry)
        out = []
        for n, preset in enumerate(self.settings["presets"]):
            clock = preset.get("clock", DEFAULT_CLOCK)
            part = None
            for known, p in clocks:
                if known is clock:
                    part = p
            if part is None:
                send, divide = clock_outputs(clock)
                part = (prepare_clock(clock), send, divide, _master_mode(clock.get("master", "auto")))
                clocks.append((clock, part))
            cv = None
            if self.cv is not None:
                cv = self.cv.prepare(preset.get("cv"), self.settings.get("calibration"))
            out.append(part + (cv,))
        return out

    def select_preset(self, index):
        """Switch routing to preset ``index`` (0-based), all of it now (start-up, tests, the
        serial console). Takes effect between messages."""
        if not self.switch_preset(index):
            return False
        self._install_cv()
        if self.cv is not None:
            self.cv.refresh()
            self.cv_refresh = False
        return True

    def switch_preset(self, index):
        """Switch to preset ``index`` (0-based) while playing: routing and clock now (between
        messages), the CV setup on the next ms tick, its DAC codes and the console line on the
        ticks after, so
        no pass holds the loop for the whole switch (each part is a pass's work on the board)."""
        switches = self.switches
        if not 0 <= index < len(switches):
            return False
        self.preset = index
        clock, send, divide, master, _ = switches[index]
        # Clock master and clock outputs: the running state and the tick schedule carry over.
        self.clock.install(clock)
        merger = self.merger
        merger.set_master(master)
        merger.set_clock_outputs(send, divide)
        masks, transforms = self.routing[index]
        merger.set_routes(masks, transforms)
        if self.panel is not None:
            self.panel.set_preset(index, self.ticks_ms())
        self.cv_due = index
        return True

    def _install_cv(self):
        # Every gate and drum falls and every voice is released before the new mode.
        index = self.cv_due
        self.cv_due = -1
        if self.cv is not None:
            self.cv.install(self.switches[index][4])
            self.cv_refresh = True

    def panel_action(self, action, now):
        """Carry out a front-panel action (``firmware.panel`` ACTION_*), between messages."""
        if action >= ACTION_PRESET:
            index = action - ACTION_PRESET
            if index != self.preset and self.switch_preset(index):
                self.announce = index
        elif action == ACTION_TAP:
            self.clock.tap(now)
        elif action == ACTION_START_STOP:
            self.clock.start_stop(now)

    def step(self):
        """One pass of the main loop. Allocates nothing."""
        now = self.ticks_ms()
        merger = self.merger
        merger.now = now
        # Work timed in ms runs once per tick, first in the pass (most passes see the same tick,
        # and a method call costs about 1,600 cycles): the clock's jacks and, when the box is
        # the master, its real-time bytes; the merger's timeouts; the panel. The clock-in jack
        # is polled every pass.
        clock = self.clock
        if now != self.tick or clock.poll:
            self._timed(now)
        buf = self.buf
        views = self.views
        last_rx = merger.last_rx
        for i, read in self.polled:
            n = read(buf)
            if n:
                last_rx[i] = now
                merger.feed(i, views[n])
        # CV timing (a gate rises here, one pass after its CV was written; see firmware/cv.py).
        cv = self.cv
        if cv is not None and cv.pending:
            cv.service(now)
        if merger.queued:
            merger.write_outputs(now)
        # Book-keeping after the outputs: the followed clock's ticks (their jack pulses and the
        # tempo estimate) run once the bytes that carried them are on their way.
        if clock.ticks_heard:
            clock.follow_ticks()

    def _timed(self, now):
        merger = self.merger
        clock = self.clock
        if ((now - clock.due) & 0x1FFFFFFF) < 0x10000000:
            b = clock.service(now)
            while b:
                merger.inject_realtime(b)
                b = clock.service(now)
        if now != self.tick:
            self.tick = now
            merger.service(now)
            # A preset switch's later parts, a tick each (switch_preset).
            if self.cv_due >= 0:
                self._install_cv()
                return
            cv = self.cv
            if self.cv_refresh and cv is not None:
                self.cv_refresh = False
                cv.refresh()
                return
            if self.announce >= 0:
                # Printed in parts: formatting would allocate a string while playing.
                index = self.announce
                self.announce = -1
                print("preset", index + 1, end="")
                print(":", self.settings["presets"][index]["name"])
                return
            # Buttons, LEDs, NVM, watchdog. A tap or start/stop is served by the clock on the
            # next tick.
            panel = self.panel
            if panel is not None:
                action = panel.service(now)
                if action:
                    self.panel_action(action, now)

    def run(self):
        while True:
            self.step()


def _master_mode(name):
    # config's clock.master -> merger.set_master: the box's own clock (internal, or the clock-in
    # jack) makes the merger drop every external clock and transport byte.
    if name == "internal" or name == "clock_in":
        return MASTER_INTERNAL
    if name in router.INPUTS:
        return router.INPUTS.index(name)
    return MASTER_AUTO


def run():
    """Start the box and loop forever."""
    from firmware import start

    started = start.build()
    del start
    _forget_start_up()
    # Collect once now, so start-up garbage never triggers a collection while playing.
    gc.collect()
    # mem_free is MicroPython's; CPython (the simulator) has no such figure.
    free = gc.mem_free() if hasattr(gc, "mem_free") else -1
    print("Thruway ready: preset %d, %d bytes free" % (started.preset + 1, free))
    started.run()


# Modules only start-up uses: the checker, the hardware set-up, the DAC table builders, the
# start-up itself. Dropped once the box runs, their code leaves the heap (docs/design.md, "Heap").
START_UP_MODULES = ("config", "board_io", "cv_tables", "start")


def _forget_start_up():
    import sys

    import firmware

    for name in START_UP_MODULES:
        sys.modules.pop("firmware." + name, None)
        if hasattr(firmware, name):
            delattr(firmware, name)
