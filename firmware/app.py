"""The box: the layers wired together, and the main loop.

Data flows one way each pass: ports -> ``Merger.feed`` (parse, route, queue; direct sends to
idle outputs) -> ``Merger.service`` (timeouts, once a ms tick) -> ``Merger.write_outputs``
(what is queued) -> ports. An input the merger makes wait (its output cannot take its next
message) is resumed first and read only into the room its carry has left (``WaitingPass``).
``code.py`` calls ``run()`` on the board and in the simulator alike; ``firmware.start`` builds
the box first and then leaves the heap.
"""

import gc

from micropython import const

try:
    from typing import Callable  # for type checkers only: CircuitPython has no typing
except ImportError:
    pass

from firmware.clock import Clock
from firmware.cv import CvEngine
from firmware.merger import Merger
from firmware.panel import ACTION_PRESET, ACTION_START_STOP, ACTION_TAP, Panel
from firmware.ports import READ_SIZE

WATCHDOG_S = 2.0  # a main loop stuck this long restarts the box (into its last preset: NVM)
# The once-a-tick work (the merger's timeouts, the tempo estimate, a preset switch's parts, the
# panel) waits for a pass that carries no message at most this many ms (a busy stream: every pass
# carries one).
_TICK_WORK_LATE_MS = const(2)
# A preset switch's first part (in Box.routes_due's low three bits, where the others are the next
# input whose routes it installs): the clock.
_CLOCK_PART = const(7)
# In Box.cv_due: the switch's CV part that released every voice is done.
_CV_RELEASED = const(0x100)

box = None  # type: Box | None  # the running Box, for the serial console and the simulator's summary


class Box:
    """Everything the main loop touches, wired together once at start-up (``start.wire``)."""

    # The fields start.wire sets (annotations only: nothing at run time; the classes are
    # imported for them and cost a name each).
    inputs: list  # ports in the router's order (firmware.router.INPUTS), None where absent
    outputs: list  # the same for OUTPUTS; [CV_OUTPUT] is the CV engine
    ticks_ms: "Callable[[], int]"  # supervisor.ticks_ms
    errors: list  # the config checker's, for the console
    merger: Merger
    cv: "CvEngine | None"
    clock: Clock
    polled: list  # what the pass reads: polled_free, or polled_waiting while an input waits
    polled_free: list  # (index, reader) of the inputs that exist (firmware.ports: a reader is
    # the stream's own readinto where it never waits, else the port's read)
    polled_waiting: list  # [(-1, WaitingPass.read)]
    waiting: "WaitingPass"  # its reader, which also reads the clock master's input again
    tick: int  # the ms tick the once-a-tick work last ran in
    buf: bytearray  # what a port read lands in
    routing: list  # per preset: (masks, transforms) for Merger.set_input_routes
    switches: list  # per preset: (clock setup, clock send mask, dividers, master mode, CV setup)
    settings: dict  # what a preset switch reads: presets (name), calibration
    preset: int  # the preset in force (0-based)
    routes_due: int  # -1, or a preset whose clock and routes the next ms ticks install
    # (switch_preset), part by part: preset << 3 | _CLOCK_PART or the next input (one field: each
    # field of a Box costs every look-up of its others a little on the board)
    cv_due: int  # a preset whose CV setup the next ms ticks install (switch_preset), or -1;
    # with _CV_RELEASED once its first part has released every voice
    cv_refresh: bool  # its DAC codes: the tick after that
    announce: int  # a preset whose console line the tick after that prints, or -1
    panel: "Panel | None"
    on_enter: list  # per preset: its on_enter messages (start._on_enter), or None
    enter: "Callable | None"  # route_events.enter when some preset has on_enter (not while wiring)

    def __init__(self, inputs, outputs, ticks_ms, settings, errors=(), clock=None):
        # Wired by firmware.start, whose code leaves the heap once the box runs: ports in the
        # router's order (None where absent), the CV engine as output ``cv``, the clock
        # (jackless when None), and ``settings`` / ``errors`` from the config checker.
        from firmware import start

        start.wire(self, inputs, outputs, ticks_ms, settings, errors, clock)

    def select_preset(self, index):
        """Switch routing to preset ``index`` (0-based), all of it now (start-up, tests, the
        serial console). Takes effect between messages."""
        if not self.switch_preset(index):
            return False
        while self.routes_due >= 0:
            self._install_routes()
        while self.cv_due >= 0:
            self._install_cv()
        if self.cv is not None:
            self.cv.refresh()
            self.cv_refresh = False
        return True

    def switch_preset(self, index):
        """Switch to preset ``index`` (0-based) while playing: a ms tick each for the clock,
        the routes of one input (between its messages), the CV setup, its DAC codes and the
        console line, so no pass holds the loop for the whole switch (each part is a pass's
        work on the board)."""
        switches = self.switches
        if not 0 <= index < len(switches):
            return False
        self.preset = index
        self.routes_due = index << 3 | _CLOCK_PART
        if self.panel is not None:
            self.panel.set_preset(index, self.ticks_ms())
        self.cv_due = index
        if self.enter is not None:
            self.enter(self, index)  # firmware.route_events.enter: the preset's on_enter
        return True

    def _install_routes(self):
        # The next part of the preset switch_preset chose: its clock first, then an input's
        # routes (and the offs they owe, in parts).
        due = self.routes_due
        i = due & 7
        if i == _CLOCK_PART:
            clock, send, divide, master, _ = self.switches[due >> 3]
            # Clock master and clock outputs: the running state and the tick schedule carry over.
            self.clock.install(clock)
            merger = self.merger
            merger.set_master(master)
            merger.set_clock_outputs(send, divide)
            self.routes_due = due & ~7
            return
        # The offs for notes the last input's new routes left sounding where they no longer go:
        # in parts of their own (Merger.strand_part), before the next input's routes.
        merger = self.merger
        if merger.strand_part():
            return
        masks, transforms = self.routing[due >> 3]
        if i >= len(masks):
            self.routes_due = -1
            return
        merger.set_input_routes(i, masks, transforms)
        self.routes_due = due + 1

    def _install_cv(self):
        # The CV parts of a switch, a tick each: every gate and drum falls and every voice is
        # released, then the new mode (with a note sounding, the two in one pass took the
        # board 126,000 cycles, over 1 ms).
        due = self.cv_due
        cv = self.cv
        if cv is not None and not due & _CV_RELEASED:
            cv.all_off()
            self.cv_due = due | _CV_RELEASED
            return
        self.cv_due = -1
        if cv is not None:
            cv.install(self.switches[due & ~_CV_RELEASED][4])
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
        # The clock first, when a tick is new (most passes see the same tick, and a method call
        # costs about 1,900 cycles) or its jack is polled (clock in): its jacks and, when the box
        # is the master, its real-time bytes, at the time they are due.
        clock = self.clock
        if now != self.tick or clock.poll:
            if ((now - clock.due) & 0x1FFFFFFF) < 0x10000000:
                b = clock.service(now)
                while b:
                    merger.inject_realtime(b)
                    b = clock.service(now)
        # What the CV engine has to do as the pass begins: the message an earlier pass handed
        # it (``CvEngine.take``, in the merger's sends or from its queue), gates to raise. One
        # handed to it during this pass's reads waits for the next pass, so the pass that
        # forwards a note never pays for its DAC writes too.
        cv = self.cv
        cv_work = cv.pending if cv is not None else 0
        last_rx = merger.last_rx
        got = 0
        for i, read, buf in self.polled:
            n = read(buf)
            if n:
                got = n
                last_rx[i] = now
                if n == 1 and 0xF8 <= buf[0] < 0xFF:
                    # A lone timing byte (a clock tick: most reads while a sequencer plays)
                    # needs no parser: straight to the merger's timing path, a call less.
                    merger.realtime(i, buf[0])
                else:
                    if merger.feed(i, buf, 0, n) < n:
                        self.polled = self.polled_waiting  # input i waits: from the next pass on
                    master = merger.clock_master.master
                    if master < i:
                        # The clock master's input was read before this message's work (0.1-0.5
                        # ms on the board a message): what it brought meanwhile goes on now, so
                        # its clock waits for one input's message, not for the rest of the pass.
                        self.waiting.poll_master(master)
                        if merger.stalled:
                            self.polled = self.polled_waiting
        # CV timing (a gate rises here, one pass after its CV was written; see firmware/cv.py).
        if cv_work:
            # What waits for the DIN and USB wires goes out first: the engine's work can take
            # 2 ms (a note's DAC writes), and a message queued behind a busy wire waited for it.
            if merger.queued:
                merger.write_outputs(now)
            cv.service(now, cv_work)  # type: ignore[union-attr]  # cv_work is 0 without an engine
            got = 1
            # Then only the engine's next queued message, which it takes now that it has played
            # this one: the DIN wires' room is estimated at the pass's ms tick, so they have no
            # more than a moment ago (writing them again cost a chord's passes up to 0.6 ms).
            if merger.queued:
                merger.hand_whole()
        elif merger.queued:
            merger.write_outputs(now)
        # The rest of the work timed in ms, once a tick, after the outputs. A pass that forwarded
        # input, played a CV note or served waiting inputs (``stalled``: WaitingPass reads them)
        # leaves it to a later pass, up to _TICK_WORK_LATE_MS late, so it does not lengthen the
        # passes that carry a message (docs/design.md, "The main loop").
        if now != self.tick and (not (got or merger.stalled) or ((now - self.tick) & 0x1FFFFFFF) > _TICK_WORK_LATE_MS):
            self._timed(now, got)

    def _timed(self, now, got):
        # The merger's timeouts, the tempo estimate, a preset switch's parts (one a tick), the
        # panel (its LED work waits longer when this pass carried a message: ``got``).
        merger = self.merger
        self.tick = now
        merger.service(now)
        if not merger.stalled:
            self.polled = self.polled_free
        # The followed clock's tempo estimate, in a pass of its own after the passes that
        # forwarded its ticks (their pulse edges came with them: Clock.on_master).
        clock = self.clock
        if merger.clock_master.ticks:
            clock.follow_ticks()
            return
        # A preset switch's later parts, a tick each (switch_preset).
        if self.routes_due >= 0:
            self._install_routes()
            return
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
            action = panel.service(now, got)
            if action:
                self.panel_action(action, now)

    def run(self):
        while True:
            self.step()


class WaitingPass:
    # The pass's reads while some input waits (firmware/merger.py, rules 3 and 4), standing in
    # as the poll list's only input: each waiting input is resumed first and read only into the
    # room its carry has; the USB input waits by not being read (USB's own back-pressure); a
    # DIN input cannot stop its wire, so when its carry cannot take a whole read its first
    # waiting message goes on by the drop rules. Returns 0: it has fed the merger itself.
    # After an input's work the clock master's input is read again (poll_master), when it
    # comes earlier in the pass: resuming and forcing inputs under load takes ms.

    def __init__(self, polled, merger, usb, by_input):
        self.polled = polled
        self.merger = merger
        self.usb = usb
        self.by_input = by_input  # each input's poll entry by its index, None where absent

    def read(self, _buf):
        m = self.merger
        now = m.now
        usb = self.usb
        for i, read, buf in self.polled:
            worked = 0
            if m.stalled >> i & 1:
                # While another input's SysEx holds an output its next message needs, trying
                # it again cannot succeed (40,000-50,000 cycles a pass on the board for
                # nothing), unless its carry must make room for a read (rule 4: a DIN input).
                if not (m.owned & m.sysex_held[i]) or (i != usb and m.carry_room(i) < READ_SIZE):
                    m.resume(i, 0 if i == usb else READ_SIZE)
                    worked = 1
            if m.stalled >> i & 1:
                if m.carry_room(i) >= READ_SIZE:
                    n = read(buf)
                    if n:
                        m.last_rx[i] = now
                        m.keep(i, buf, 0, n)
            else:
                n = read(buf)
                if n:
                    m.last_rx[i] = now
                    m.feed(i, buf, 0, n)
                    worked = 1
            if worked:
                master = m.clock_master.master
                if master < i:
                    self.poll_master(master)  # as in Box.step: its clock waits for one input's work
        return 0

    def poll_master(self, j):
        # Read the clock master's input ``j`` again (after a later input's work in the pass),
        # as ``read`` reads an input: into its carry while it waits (its timing bytes go on
        # now: Merger.keep), else fed. A master the config names may be absent (a port that
        # failed at power-up): None. ``read``'s loop keeps this body inline: as a call shared
        # by both, the USB SysEx streamed at 1.38 wire times instead of 1.33 (board engine,
        # arms on one build).
        entry = self.by_input[j]
        if entry is None:
            return
        m = self.merger
        _, read, buf = entry
        if m.stalled >> j & 1:
            if m.carry_room(j) < READ_SIZE:
                return
            n = read(buf)
            if n:
                m.last_rx[j] = m.now
                m.keep(j, buf, 0, n)
            return
        n = read(buf)
        if n:
            m.last_rx[j] = m.now
            m.feed(j, buf, 0, n)  # when it now waits, the caller sees it in ``stalled``


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


# Modules only start-up uses: the checker and the defaults it fills in, the hardware set-up and its pin names, the DAC
# set-up and table builders, the routing table builders and the MIDI kinds they read (the
# tables the box keeps, such as midi.DATA_LENGTH, stay with the modules that imported them),
# the start-up itself. Dropped once the box runs, their code leaves the heap (docs/design.md,
# "Heap").
START_UP_MODULES = ("config", "defaults", "board_io", "pinmap", "pinmap_usbhost", "cv_setup", "clock_setup", "wires_setup", "merger_setup", "panel_setup", "router", "midi", "start")


def _forget_start_up():
    import sys

    import firmware

    for name in START_UP_MODULES:
        sys.modules.pop("firmware." + name, None)
        if hasattr(firmware, name):
            delattr(firmware, name)
