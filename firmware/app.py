"""The box: the layers wired together, and the main loop.

Data flows one way each pass: ports -> ``Merger.feed`` (parse, route, queue; direct sends to
idle outputs) -> ``Merger.service`` (timeouts, once a ms tick) -> ``Merger.write_outputs``
(what is queued) -> ports. ``code.py`` calls ``run()`` on the board and in the simulator
alike; ``firmware.start`` builds the box first and then leaves the heap.
"""

import gc

from firmware import router
from firmware.clock import DEFAULT_CLOCK, Clock, clock_outputs
from firmware.merger import MASTER_AUTO, MASTER_INTERNAL, Merger
from firmware.panel import ACTION_PRESET, ACTION_START_STOP, ACTION_TAP

READ_SIZE = 64
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
        # The inputs that exist, with their index: the pass polls them without a None test.
        self.polled = [(i, inputs[i]) for i in range(len(inputs)) if inputs[i] is not None]
        self.tick = -1  # the ms tick the once-a-tick work last ran in
        self.buf = bytearray(READ_SIZE)
        whole = memoryview(self.buf)
        self.views = [whole[:n] for n in range(READ_SIZE + 1)]
        # Every preset's routing tables and what a switch reads, built once (firmware.start).
        from firmware import start

        self.routing, self.settings = start.presets(self.merger, self.cv, settings, len(inputs), len(outputs))
        self.preset = 0
        self.panel = None  # firmware.panel.Panel, attached by start.build() (tests may leave it out)
        self.select_preset(0)

    def select_preset(self, index):
        """Switch routing to preset ``index`` (0-based). Takes effect between messages."""
        presets = self.settings["presets"]
        if not 0 <= index < len(presets):
            return False
        self.preset = index
        if self.cv is not None:
            # Every gate and drum falls and every voice is released before the new mode.
            self.cv.configure(presets[index].get("cv"), self.settings.get("calibration"))
        # Clock master and clock outputs: the running state and the tick schedule carry over.
        clock = presets[index].get("clock", DEFAULT_CLOCK)
        self.clock.configure(clock)
        self.merger.set_master(_master_mode(clock.get("master", "auto")))
        send, divide = clock_outputs(clock)
        self.merger.set_clock_outputs(send, divide)
        masks, transforms = self.routing[index]
        self.merger.set_routes(masks, transforms)
        if self.panel is not None:
            self.panel.set_preset(index, self.ticks_ms())
        return True

    def panel_action(self, action, now):
        """Carry out a front-panel action (``firmware.panel`` ACTION_*), between messages."""
        if action >= ACTION_PRESET:
            index = action - ACTION_PRESET
            if index != self.preset and self.select_preset(index):
                print("preset %d: %s" % (index + 1, self.settings["presets"][index]["name"]))
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
        for i, port in self.polled:
            n = port.read(buf)
            if n:
                last_rx[i] = now
                merger.feed(i, views[n])
        # CV timing (a gate rises here, one pass after its CV was written; see firmware/cv.py).
        cv = self.cv
        if cv is not None and cv.pending:
            cv.service(now)
        if merger.queued:
            merger.write_outputs(now)

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
