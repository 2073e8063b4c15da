"""The box: builds the layers from the hardware and runs the main loop.

Data flows one way each pass: ports -> ``Merger.feed`` (parse, route, queue) ->
``Merger.service`` (timeouts) -> ``Merger.drain`` -> ports. ``code.py`` calls ``run()`` on the
board and in the simulator alike.
"""

import gc

from firmware import config, router
from firmware.merger import Merger

READ_SIZE = 64

box = None  # the running Box, for the serial console and the simulator's summary


class Box:
    """Everything the main loop touches, wired together once at start-up."""

    def __init__(self, inputs, outputs, ticks_ms, settings, errors=()):
        self.inputs = inputs
        self.outputs = outputs
        self.ticks_ms = ticks_ms
        self.settings = settings
        self.errors = list(errors)
        self.merger = Merger(len(inputs), len(outputs))
        for o in range(len(outputs)):
            if outputs[o] is None:
                self.merger.present &= ~(1 << o)
        self.buf = bytearray(READ_SIZE)
        whole = memoryview(self.buf)
        self.views = [whole[:n] for n in range(READ_SIZE + 1)]
        self.preset = 0
        self.select_preset(0)

    def select_preset(self, index):
        """Switch routing to preset ``index`` (0-based). Takes effect between messages."""
        presets = self.settings["presets"]
        if not 0 <= index < len(presets):
            return False
        self.preset = index
        routes = presets[index]["routes"]
        self.merger.set_routes(
            router.build_masks(routes, len(self.inputs)),
            router.build_transforms(routes, len(self.inputs), len(self.outputs)),
        )
        return True

    def step(self):
        """One pass of the main loop. Allocates nothing."""
        now = self.ticks_ms()
        merger = self.merger
        merger.now = now
        buf = self.buf
        views = self.views
        inputs = self.inputs
        for i in range(len(inputs)):
            port = inputs[i]
            if port is not None:
                n = port.read(buf)
                if n:
                    merger.last_rx[i] = now
                    merger.feed(i, views[n])
        merger.service(now)
        # Only outputs with bytes queued (merger.queued) are visited.
        queued = merger.queued
        if queued:
            outputs = self.outputs
            o = 0
            while queued:
                if queued & 1:
                    port = outputs[o]
                    room = port.room(now)
                    if room:
                        merger.drain(o, port, room)
                queued >>= 1
                o += 1

    def run(self):
        while True:
            self.step()


def run():
    """Start the box on the real (or simulated) hardware and loop forever."""
    global box
    from firmware import board_io

    hw = board_io.Hardware()
    settings, errors = config.load(hw.read_config())
    for message in errors:
        print("config error:", message)
    for fault in hw.faults:
        print("fault:", fault)
    box = Box(hw.inputs, hw.outputs, hw.ticks_ms, settings, errors)
    # Collect once now, so start-up garbage never triggers a collection while playing.
    gc.collect()
    # mem_free is MicroPython's; CPython (the simulator) has no such figure.
    free = gc.mem_free() if hasattr(gc, "mem_free") else -1
    print("Thruway ready: preset %d, %d bytes free" % (box.preset + 1, free))
    box.run()
