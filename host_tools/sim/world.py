"""The simulated world: virtual time, scheduled wire events and recorded signals.

Every fake hardware module (``host_tools/sim/fakes``) reaches the running simulation through
``current()``. Time is an integer count of nanoseconds and only moves forward when the firmware
calls into fake hardware: each call is charged the CPU time it costs on the RP2040 (``costs.py``),
and events due by then (bytes finishing on a wire, a button edge) run in time order first.
Nothing reads the host's clock, so the same inputs always give the same outputs.
"""

import heapq

from host_tools.sim import costs, pycost

NS_PER_MS = 1_000_000


class SimulationEnd(BaseException):
    """Raised inside a fake call when virtual time reaches the end of the run.

    A BaseException, like KeyboardInterrupt, so firmware that keeps running through ordinary
    errors still stops here."""


class Reboot(BaseException):
    """Raised inside a fake call when the box resets (watchdog, ``microcontroller.reset()``,
    ``supervisor.reload()``): the runner restarts the firmware on the same world, NVM kept."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class SignalRecorder:
    """Volts at the jacks over time: a row at time 0 for every signal, then one per change."""

    def __init__(self, world):
        self._world = world
        self.values = {}
        self.rows = []  # (time_ns, name, volts)

    def define(self, name, volts=0.0):
        if name in self.values:
            raise ValueError("signal %r defined twice" % name)
        self.values[name] = volts
        self.rows.append((0, name, volts))

    def set(self, name, volts):
        if name not in self.values:
            raise KeyError("unknown signal %r" % name)
        if self.values[name] != volts:
            self.values[name] = volts
            self.rows.append((self._world.now_ns, name, volts))

    def history(self, name):
        return [(t, v) for t, n, v in self.rows if n == name]


class World:
    """Virtual clock plus an ordered queue of timed events."""

    def __init__(self, until_ns=None):
        self.now_ns = 0
        self.until_ns = until_ns
        self._events = []
        self._seq = 0
        self.signals = SignalRecorder(self)
        self.cpu_ns = 0  # CPU time charged so far (for load figures)
        self.cpu_hz = costs.UNIT_HZ  # the CPU clock (microcontroller.cpu.frequency)
        self._cpu_rest = 0  # what charge's scaling has not yet added (ns x Hz)
        self.din_inputs = {}  # GPIO number -> wires.DinInput
        self.tx_wires = {}  # GPIO number -> wires.Wire
        self.usb = None  # usb.UsbLink when the simulated host is attached
        self.nvm = bytearray(256)
        self.resets = 0
        self.reset_log = []  # (time_ns, reason) of every reset
        self.watchdog_deadline_ns = None  # armed watchdog: reset when time passes this
        self.gate_volts = 5.0
        # Without --until: end once past soft_until_ns and stop_check() says all is idle.
        self.soft_until_ns = None
        self.stop_check = None
        self.pass_marker = None  # called at each main-loop pass (the runner counts them)
        self.ring_inputs = []  # PIO inputs whose DMA fills a ring the firmware reads (fakes/rp2pio.py)
        self.python_costs = False  # charge the firmware's Python (pycost.py) instead of per byte
        self.timer_us_at_zero = None  # the chip's us timer at time 0, or None: exact ms (ticks.py)

    def tx_wire(self, pin_number):
        """The wire a transmitter on this GPIO drives (an unconnected one if no jack)."""
        from host_tools.sim.wires import Wire

        if pin_number not in self.tx_wires:
            self.tx_wires[pin_number] = Wire("GP%d" % pin_number)
        return self.tx_wires[pin_number]

    def attach_receiver(self, pin_number, receiver):
        from host_tools.sim.wires import DinInput

        if pin_number not in self.din_inputs:
            self.din_inputs[pin_number] = DinInput("GP%d" % pin_number, pin_number)
        self.din_inputs[pin_number].receiver = receiver

    def drive_pin(self, pin_number, level):
        """A GPIO output changed: the simulator maps GPIOs to jack signals in ``pin_signals``."""
        name = self.__dict__.get("pin_signals", {}).get(pin_number)
        if name is not None:
            self.signals.set(name, self.gate_volts if level else 0.0)
        hook = self.__dict__.get("pin_hooks", {}).get(pin_number)
        if hook is not None:
            hook(level)

    def read_pin(self, pin_number, pull):
        """Level of an input GPIO: pressed buttons (to GND) read False; others follow the pull."""
        levels = self.__dict__.get("pin_levels", {})
        if pin_number in levels:
            return levels[pin_number]
        return pull != "DOWN"

    def request_reset(self, reason="reset"):
        """microcontroller.reset(), supervisor.reload() or the watchdog: the box restarts
        (``Reboot``; the runner runs boot.py and code.py again, NVM kept)."""
        self.resets += 1
        self.reset_log.append((self.now_ns, reason))
        self.watchdog_deadline_ns = None
        raise Reboot(reason)

    def at(self, t_ns, fn):
        """Run ``fn()`` when virtual time reaches ``t_ns`` (never in the past)."""
        if t_ns < self.now_ns:
            t_ns = self.now_ns
        self._seq += 1
        heapq.heappush(self._events, (t_ns, self._seq, fn))

    def next_event_ns(self):
        return self._events[0][0] if self._events else None

    def cost(self, name):
        """A hardware call's cost in ns (``costs.<name>``); under the Python model the board
        engine's measurement where costs.MEASURED has one."""
        if self.python_costs and name in costs.MEASURED:
            return costs.MEASURED[name]
        return getattr(costs, name)

    def charge_read(self, call_ns, nbytes):
        """A port read: its call, and under the call-only cost model the firmware's path for the
        loop around it and for each byte it hands over (costs.PER_READ_OVERHEAD, PER_BYTE_PATH)."""
        if not self.python_costs:
            call_ns += costs.PER_READ_OVERHEAD + nbytes * costs.PER_BYTE_PATH
        self.charge(call_ns)

    def charge_ring_polls(self):
        """Under the call-only model, the main loop's read of each PIO input ring this pass: a
        Python call (firmware/ports.py pio_in's read) with no call into a fake to charge it. The
        USB input's read charges it: the loop reads USB right after the PIO inputs."""
        if not self.python_costs:
            self.charge(len(self.ring_inputs) * (costs.PIO_RING_POLL + costs.PER_READ_OVERHEAD))

    def charge(self, ns):
        """Spend CPU time, ``ns`` at 125 MHz (costs.UNIT_HZ): at the clock the firmware set
        (``cpu_hz``) it takes ns x 125 MHz / cpu_hz. Advances the clock, running every event due
        on the way."""
        if self.ring_inputs and not self.python_costs:
            # The call-only model's path for the bytes the firmware took from PIO input rings
            # since the last call into a fake: its Python reads them with no call to charge.
            for sm in self.ring_inputs:
                ns += sm.taken() * costs.PER_BYTE_PATH
        if self.cpu_hz != costs.UNIT_HZ:
            ns, self._cpu_rest = divmod(ns * costs.UNIT_HZ + self._cpu_rest, self.cpu_hz)
        self.wait(ns)

    def wait(self, ns):
        """Spend ``ns`` the CPU waits out whatever its clock: a wire's time in a blocking call, a
        flash write, a sleep."""
        self.cpu_ns += ns
        self.advance_to(self.now_ns + ns)

    def advance_to(self, t_ns):
        deadline = self.watchdog_deadline_ns
        if deadline is not None and t_ns >= deadline:
            # Unfed for its timeout: what is due before the deadline happens, then the reset.
            self.watchdog_deadline_ns = None
            self.advance_to(deadline)
            self.request_reset("watchdog")
        until = self.until_ns
        events = self._events
        while events and events[0][0] <= t_ns:
            when, _, fn = heapq.heappop(events)
            if until is not None and when > until:
                self.now_ns = until
                raise SimulationEnd()
            if when > self.now_ns:
                self.now_ns = when
            fn()
        if until is not None and t_ns > until:
            self.now_ns = until
            raise SimulationEnd()
        if t_ns > self.now_ns:
            self.now_ns = t_ns
        if self.soft_until_ns is not None and self.now_ns >= self.soft_until_ns and self.stop_check():
            raise SimulationEnd()


_current = None


def current():
    """The world the fakes act in. Raises if no simulation is running."""
    if _current is None:
        raise RuntimeError("no simulated world: fake hardware used outside a simulation")
    if pycost.pending_cycles:
        # The firmware's Python since the last hardware call runs first (host_tools/sim/pycost.py).
        ns = pycost.take_ns()
        if ns:
            _current.charge(ns)
    return _current


def install(world):
    global _current
    _current = world
    return world


def uninstall():
    global _current
    _current = None
