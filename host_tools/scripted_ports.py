"""Scripted ports for driving the real Box without hardware, on CPython and on the MicroPython
VM alike (benchmarks and the hot-path scenarios ship this file into the VM)."""


class ScriptIn:
    """An input that hands out ``data``, ``chunk`` bytes a read; with ``loop`` it starts over
    (after one empty read) when the data runs out."""

    def __init__(self, data, chunk, loop=False):
        self.data = data
        self.pos = 0
        self.chunk = chunk
        self.loop = loop

    def read(self, buf):
        n = len(self.data) - self.pos
        if n <= 0:
            if self.loop:
                self.pos = 0
            return 0
        if n > self.chunk:
            n = self.chunk
        if n > len(buf):
            n = len(buf)
        d = self.data
        p = self.pos
        k = 0
        while k < n:
            buf[k] = d[p + k]
            k += 1
        self.pos = p + n
        return n


class SinkOut:
    """An output with a fixed room a pass, counting what it takes."""

    def __init__(self, room):
        self._room = room
        self.count = 0

    def send(self, buf, start, end, now):
        n = end - start
        if n > self._room:
            n = self._room
        self.count += n
        return n


class Ticks:
    """A ticks_ms stand-in that moves one millisecond every ``calls_per_ms`` calls (a main-loop
    pass on the Pico takes about 0.16 ms, so about 6 passes a millisecond)."""

    def __init__(self, calls_per_ms=6):
        self.t = 0
        self.calls = 0
        self.per_ms = calls_per_ms

    def now(self):
        self.calls += 1
        if self.calls >= self.per_ms:
            self.calls = 0
            self.t = (self.t + 1) & 0x1FFFFFFF
        return self.t


class CountingPin:
    """A DigitalInOut stand-in that counts rising edges."""

    def __init__(self, value=False):
        self._v = value
        self.rises = 0

    @property
    def value(self):
        return self._v

    @value.setter
    def value(self, v):
        if v and not self._v:
            self.rises += 1
        self._v = v


class CountingI2C:
    """A busio.I2C stand-in where every device answers: counts write transactions."""

    def __init__(self):
        self.writes = 0

    def try_lock(self):
        return True

    def unlock(self):
        pass

    def writeto(self, address, buf, *, start=0, end=None):
        self.writes += 1

    def readfrom_into(self, address, buf, *, start=0, end=None):
        for k in range(len(buf)):
            buf[k] = 0


class CountingSpi:
    def __init__(self):
        self.writes = 0

    def write(self, buf):
        self.writes += 1


class Jacks:
    """The CV side of ``board_io.Hardware`` (what ``cv.CvEngine`` uses), with both DACs."""

    def __init__(self):
        self.i2c = CountingI2C()
        self.faults = []
        self.gate_pins = [CountingPin(), CountingPin(), CountingPin(), CountingPin()]
        self.drum_spi = CountingSpi()
        self.drum_latch = CountingPin()
        self.outputs = [None] * 6


class ScriptedTimer:
    """The clock's PIO timers (firmware/board_io.py) on a ``Ticks`` clock, for the VM scenarios.

    The metronome (``one_shot`` False) counts the intervals written to it back to back and has a
    token as each one ends; given nothing new it counts the last one again. The one-shot counts
    one interval a word, then waits. A word n counts n + ``constant_us``; time moves in whole ms
    here (``Ticks``), and four tokens fill the FIFO (then ``rxstall``, and it stands still)."""

    def __init__(self, ticks, constant_us, one_shot=False):
        self._ticks = ticks
        self._c = constant_us
        self._one = one_shot
        self._end = -1  # us: when the interval counted now ends; -1: waiting for a word
        self._next = 0  # us: the interval it holds next
        self._tokens = 0
        self.rxstall = False
        self.written = 0
        self.restarts = 0

    def _run(self):
        now = self._ticks.t * 1000
        while 0 <= self._end <= now:
            if self._tokens == 4:
                self.rxstall = True
                return
            self._tokens += 1
            if self._one:
                self._end = -1
            else:
                self._end += self._next

    @property
    def in_waiting(self):
        self._run()
        return self._tokens

    def readinto(self, buf, *, start=0, end=None):
        if end is None:
            end = len(buf)
        k = start
        while k < end:
            buf[k] = 0
            k += 1
        self._tokens -= end - start

    def write(self, buf):
        n = buf[0] + self._c
        self.written += 1
        if self._end < 0:
            self._end = self._ticks.t * 1000 + n
        self._next = n

    def restart(self):
        self._end = -1
        self.restarts += 1

    def clear_rxfifo(self):
        self._tokens = 0
        self.rxstall = False
