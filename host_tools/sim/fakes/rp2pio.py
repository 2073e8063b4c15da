"""Fake ``rp2pio``: state machines in virtual time, with the RP2040's budget.

Two models, told apart by reading the program's instructions:
- the UART receive and transmit programs (IN pins + PUSH, PULL + OUT pins): bytes move at the
  bit rate ``frequency`` / 8 (both programs spend 8 cycles a bit), not instruction by instruction;
- a program that uses no pins (the clock's metronome and one-shot, board_io): a small PIO
  interpreter runs it cycle by cycle in virtual time (JMP, MOV, PULL, PUSH, SET, IN/OUT to
  registers, delays), lazily: whenever the firmware touches the state machine it first runs up
  to the present. A counting loop that repeats with nothing but its counter changing is stepped
  over in one go, so a 60 ms countdown costs a few Python steps. ``push_times`` records the
  virtual time (ns) of every PUSH.

As on the chip: FIFO depths and joins (``fifo_type``, "auto" as CircuitPython picks it), a
blocking PUSH stalls on a full RX FIFO (``rxstall``), a nonblocking one drops; CircuitPython's
``write`` returns only once the TX FIFO is empty again (the state machine pulled every word);
two PIO blocks of four state machines and 32 instruction words each, a program already loaded in
a block shared by its state machines (CircuitPython shares the same program buffer); the clock
divider is CircuitPython's (``frequency`` reads the actual rate)."""

from collections import deque

from host_tools.sim import costs
from host_tools.sim import world as _world
from host_tools.sim.pins import Pin, claim, release
from host_tools.sim.wires import Transmitter

_KWARGS = {
    "pio_version": 0,
    "may_exec": None,
    "init": None,
    "first_out_pin": None,
    "out_pin_count": 1,
    "initial_out_pin_state": 0,
    "initial_out_pin_direction": 0xFFFFFFFF,
    "first_in_pin": None,
    "in_pin_count": 1,
    "pull_in_pin_up": 0,
    "pull_in_pin_down": 0,
    "first_set_pin": None,
    "set_pin_count": 1,
    "initial_set_pin_state": 0,
    "initial_set_pin_direction": 0x1F,
    "first_sideset_pin": None,
    "sideset_pin_count": 1,
    "sideset_pindirs": False,
    "initial_sideset_pin_state": 0,
    "initial_sideset_pin_direction": 0x1F,
    "sideset_enable": False,
    "jmp_pin": None,
    "jmp_pin_pull": None,
    "exclusive_pin_use": True,
    "auto_pull": False,
    "pull_threshold": 32,
    "out_shift_right": True,
    "wait_for_txstall": True,
    "auto_push": False,
    "push_threshold": 32,
    "in_shift_right": True,
    "user_interruptible": True,
    "wrap_target": 0,
    "wrap": -1,
    "offset": -1,
    "fifo_type": "auto",
    "mov_status_type": "txfifo",
    "mov_status_n": 0,
}
_BLOCKS = 2  # the RP2040's; the world's pio_block_count says otherwise (RP2350: 3)
_SMS_PER_BLOCK = 4
_INSTRUCTIONS = 32  # words of instruction memory per block
_WORD = 0xFFFFFFFF
_STEP_LIMIT = 10_000_000  # a blocking call that would wait longer is a firmware bug
_TRAIL = 64  # a loop longer than this is run instruction by instruction


def _decode(program):
    has_in = has_push = has_pull = has_out_pins = False
    for word in program:
        op = word >> 13
        if op == 2 and (word >> 5) & 7 == 0:
            has_in = True
        elif op == 3 and (word >> 5) & 7 == 0:
            has_out_pins = True
        elif op == 4:
            if word & 0x80:
                has_pull = True
            else:
                has_push = True
    return has_in and has_push, has_pull and has_out_pins


def _divider(frequency, sys_hz):
    # CircuitPython's clock divider (common-hal/rp2pio/StateMachine.c), from the CPU clock when
    # the machine is made: 16.8 fixed point, rounded up, so the actual rate is never above the one
    # asked for.
    if frequency == 0:
        frequency = sys_hz
    div256 = sys_hz * 256 // frequency
    if sys_hz * 256 % div256:
        div256 += 1
    if div256 // 256 > 0x10000 or frequency > sys_hz:
        raise ValueError("frequency out of range")
    return div256


def _blocks(w):
    blocks = w.__dict__.get("pio_blocks")
    if blocks is None:
        count = w.__dict__.get("pio_block_count", _BLOCKS)
        blocks = [{"sms": 0, "used": [False] * _INSTRUCTIONS, "programs": {}} for _ in range(count)]
        w.pio_blocks = blocks
    return blocks


def _claim(w, key, length):
    """(block, offset) for a program: where it is loaded already (CircuitPython's
    use_existing_program), else the first block with a free state machine and room (the SDK
    loads a program at the highest offset where it fits). None when nothing fits."""
    blocks = _blocks(w)
    for b, block in enumerate(blocks):
        loaded = block["programs"].get(key)
        if loaded is not None and block["sms"] < _SMS_PER_BLOCK:
            loaded[1] += 1
            block["sms"] += 1
            return b, loaded[0]
    for b, block in enumerate(blocks):
        if block["sms"] >= _SMS_PER_BLOCK:
            continue
        used = block["used"]
        for offset in range(_INSTRUCTIONS - length, -1, -1):
            if not any(used[offset:offset + length]):
                for k in range(offset, offset + length):
                    used[k] = True
                block["programs"][key] = [offset, 1, length]
                block["sms"] += 1
                return b, offset
    return None


def _unclaim(w, b, key):
    block = _blocks(w)[b]
    block["sms"] -= 1
    loaded = block["programs"][key]
    loaded[1] -= 1
    if loaded[1] == 0:
        offset, _, length = loaded
        for k in range(offset, offset + length):
            block["used"][k] = False
        del block["programs"][key]


def _touches(word, x):
    """Whether an instruction reads or writes X (``x``) or Y (not ``x``)."""
    op = word >> 13
    a = (word >> 5) & 7
    reg = 1 if x else 2
    if op == 0:
        return a == 5 or a in ((1, 2) if x else (3, 4))
    if op == 4:
        return x and word & 0x80 and not word & 0x20  # a nonblocking pull may copy X
    if op == 5:
        return a == reg or word & 7 == reg
    if op in (2, 3, 7):
        return a == reg
    return False


class _Core:
    """A state machine executing its program in SM cycles (see the module docstring)."""

    def __init__(self, words, opts, t0_ns, cycle_ns256, rx_depth, tx_depth):
        self.prog = words
        self.wrap_target = opts["wrap_target"]
        self.wrap = opts["wrap"] if opts["wrap"] >= 0 else len(words) - 1
        self.status_rx = opts["mov_status_type"] == "rxfifo"
        self.status_n = opts["mov_status_n"]
        self.pull_thresh = opts["pull_threshold"] or 32
        self.push_thresh = opts["push_threshold"] or 32
        self.out_right = opts["out_shift_right"]
        self.in_right = opts["in_shift_right"]
        side_bits = 0
        if opts["first_sideset_pin"]:
            side_bits = opts["sideset_pin_count"] + (1 if opts["sideset_enable"] else 0)
        self.delay_mask = (1 << (5 - side_bits)) - 1
        self.t0 = t0_ns
        self.cycle_ns256 = cycle_ns256  # a cycle's ns, x 256
        self.rx_depth = rx_depth
        self.tx_depth = tx_depth
        self.tx = deque()
        self.rx = deque()
        self.pc = 0
        self.x = self.y = self.osr = self.isr = 0
        self.osr_n = 32  # output shift count: 32 = empty
        self.isr_n = 0
        self.cycle = 0  # the cycle at which the instruction at pc runs
        self.enabled = True
        self.rxstall = False
        self.txstall = False
        self.push_times = []
        self._snaps = {}
        self._trail = []  # the pcs run since the last counting jmp (_skip_loop)

    @staticmethod
    def supports(words, opts):
        if opts["auto_pull"] or opts["auto_push"]:
            return False
        for word in words:
            op = word >> 13
            a = (word >> 5) & 7
            if op == 0 and a == 6:  # jmp pin
                return False
            if op in (1, 6):  # wait, irq
                return False
            if op == 2 and a not in (1, 2, 3):  # in: x, y, null
                return False
            if op == 3 and a not in (1, 2, 3):  # out: x, y, null
                return False
            if op == 5 and (a not in (1, 2, 5, 6, 7) or (word & 7) not in (1, 2, 3, 5, 6, 7)):
                return False
            if op == 5 and word & 7 == 5 and opts["mov_status_type"] == "irq":
                return False
            if op == 7 and a not in (1, 2):  # set: x, y
                return False
        return True

    # -- time ------------------------------------------------------------------------------

    def cycle_at(self, t_ns):
        return (t_ns - self.t0) * 256 // self.cycle_ns256

    def time_of(self, cycle):
        return self.t0 + cycle * self.cycle_ns256 // 256

    # -- execution -------------------------------------------------------------------------

    def run_to(self, target):
        """Run every instruction that starts at or before cycle ``target``."""
        if not self.enabled:
            if self.cycle <= target:
                self.cycle = target + 1
            return
        while self.cycle <= target:
            word = self.prog[self.pc]
            if word >> 13 == 0 and (word >> 5) & 7 in (2, 4):
                self._skip_loop(word, target)
                if self.cycle > target:
                    break
            if len(self._trail) < _TRAIL:
                self._trail.append(self.pc)
            if not self._step(word):
                self.cycle = target + 1  # stalled: nothing changes before the firmware acts
                break

    def _skip_loop(self, word, target):
        # At a "jmp x--" / "jmp y--": if the program came round to it with only that counter one
        # lower, and nothing on the way reads or writes the counter, every further round (while
        # it stays above 0) is the same: skip them, in whole rounds up to ``target``.
        use_x = (word >> 5) & 7 == 2
        counter = self.x if use_x else self.y
        state = (self.y if use_x else self.x, self.osr, self.isr, self.osr_n, self.isr_n, len(self.tx), len(self.rx))
        snap = self._snaps.get(self.pc)
        trail = self._trail
        if (snap is not None and snap[1] == counter + 1 and snap[2] == state and trail and trail[0] == self.pc
                and len(trail) < _TRAIL and not any(_touches(self.prog[pc], use_x) for pc in trail[1:])):
            period = self.cycle - snap[0]
            k = min(counter, (target - self.cycle) // period) if period > 0 else 0
            if k > 0:
                counter -= k
                self.cycle += k * period
                if use_x:
                    self.x = counter
                else:
                    self.y = counter
        self._snaps[self.pc] = (self.cycle, counter, state)
        self._trail = []

    def _status(self):
        level = len(self.rx) if self.status_rx else len(self.tx)
        return _WORD if level < self.status_n else 0

    def _step(self, word):
        """Execute one instruction; False when it stalls."""
        op = word >> 13
        delay = (word >> 8) & self.delay_mask
        a = (word >> 5) & 7
        nxt = self.wrap_target if self.pc == self.wrap else self.pc + 1
        if op == 0:  # JMP
            cond = a
            if cond == 0:
                taken = True
            elif cond == 1:
                taken = self.x == 0
            elif cond == 2:
                taken = self.x != 0
                self.x = (self.x - 1) & _WORD
            elif cond == 3:
                taken = self.y == 0
            elif cond == 4:
                taken = self.y != 0
                self.y = (self.y - 1) & _WORD
            elif cond == 5:
                taken = self.x != self.y
            else:  # 7: !OSRE
                taken = self.osr_n < self.pull_thresh
            if taken:
                nxt = word & 31
        elif op == 4 and word & 0x80:  # PULL
            if not (word & 0x40 and self.osr_n < self.pull_thresh):  # IfEmpty: only when empty
                if self.tx:
                    self.osr = self.tx.popleft()
                    self.osr_n = 0
                elif word & 0x20:
                    self.txstall = True
                    return False
                else:
                    self.osr = self.x
                    self.osr_n = 0
        elif op == 4:  # PUSH
            if not (word & 0x40 and self.isr_n < self.push_thresh):  # IfFull: only when full
                if len(self.rx) >= self.rx_depth:
                    self.rxstall = True
                    if word & 0x20:
                        return False
                else:
                    self.rx.append(self.isr)
                    self.push_times.append(self.time_of(self.cycle))
                self.isr = 0
                self.isr_n = 0
        elif op == 5:  # MOV
            src = word & 7
            value = {1: self.x, 2: self.y, 3: 0, 5: None, 6: self.isr, 7: self.osr}[src]
            if value is None:
                value = self._status()
            mop = (word >> 3) & 3
            if mop == 1:
                value = ~value & _WORD
            elif mop == 2:
                value = int("{:032b}".format(value)[::-1], 2)
            if a == 1:
                self.x = value
            elif a == 2:
                self.y = value
            elif a == 5:
                nxt = value & 31
            elif a == 6:
                self.isr = value
                self.isr_n = 0
            else:
                self.osr = value
                self.osr_n = 0
        elif op == 7:  # SET
            if a == 1:
                self.x = word & 31
            else:
                self.y = word & 31
        elif op == 3:  # OUT to x, y, null
            n = word & 31 or 32
            mask = (1 << n) - 1
            if self.out_right:
                value = self.osr & mask
                self.osr = self.osr >> n if n < 32 else 0
            else:
                value = (self.osr >> (32 - n)) & mask
                self.osr = (self.osr << n) & _WORD
            self.osr_n = min(32, self.osr_n + n)
            if a == 1:
                self.x = value
            elif a == 2:
                self.y = value
        elif op == 2:  # IN from x, y, null
            n = word & 31 or 32
            value = {1: self.x, 2: self.y, 3: 0}[a] & ((1 << n) - 1)
            if self.in_right:
                self.isr = ((self.isr >> n) | (value << (32 - n))) & _WORD if n < 32 else value
            else:
                self.isr = ((self.isr << n) | value) & _WORD
            self.isr_n = min(32, self.isr_n + n)
        self.pc = nxt
        self.cycle += 1 + delay
        return True

    def wait_for(self, done):
        """Run on, one instruction at a time, until ``done()``; returns the cycle reached."""
        steps = 0
        while not done():
            self.run_to(self.cycle)
            steps += 1
            if steps > _STEP_LIMIT:
                raise RuntimeError("rp2pio: the call would wait forever (the program never gets there)")
        return self.cycle

    def restart(self, cycle):
        # CircuitPython: stop, jmp to the program's start, pio_sm_restart (ISR, shift counters
        # and delay cleared), run init, enable. FIFOs and X, Y, OSR keep their contents.
        self.run_to(cycle)
        self.pc = 0
        self.isr = 0
        self.isr_n = 0
        self.osr_n = 32
        self.cycle = cycle + 1
        self.enabled = True
        self._snaps.clear()
        self._trail = []


class StateMachine:
    def __init__(self, program, frequency, **kwargs):
        for key in kwargs:
            if key not in _KWARGS:
                raise TypeError("unexpected keyword argument '%s'" % key)
        opts = dict(_KWARGS)
        opts.update(kwargs)
        if not isinstance(frequency, int):
            raise TypeError("frequency must be an int")
        words = list(memoryview(program).cast("H")) if not hasattr(program, "typecode") else list(program)
        if not words or len(words) > 32:
            raise ValueError("Program size invalid")
        for key in ("first_out_pin", "first_in_pin", "first_set_pin", "first_sideset_pin", "jmp_pin"):
            if opts[key] is not None and not isinstance(opts[key], Pin):
                raise TypeError("%s must be of type Pin" % key)
        if opts["fifo_type"] not in ("auto", "txrx", "tx", "rx"):
            raise ValueError("fifo_type not supported on RP2040")
        if not -1 <= opts["wrap"] < len(words) or not 0 <= opts["wrap_target"] < len(words):
            raise ValueError("wrap out of range")
        if opts["mov_status_type"] not in ("txfifo", "rxfifo", "irq"):
            raise ValueError("Invalid mov_status_type")
        w = _world.current()
        div256 = _divider(frequency, w.cpu_hz)
        used = w.__dict__.setdefault("pio_state_machines", [0])
        if used[0] >= _SMS_PER_BLOCK * w.__dict__.get("pio_block_count", _BLOCKS):
            raise RuntimeError("All state machines in use")
        self._is_rx, self._is_tx = _decode(words)
        has_pins = any(opts[k] is not None for k in ("first_out_pin", "first_in_pin", "first_set_pin",
                                                     "first_sideset_pin", "jmp_pin"))
        self._core = None
        pulls = any(word >> 13 == 4 and word & 0x80 for word in words)
        pushes = any(word >> 13 == 4 and not word & 0x80 for word in words)
        fifo = opts["fifo_type"]
        if fifo == "auto":
            if self._is_rx or self._is_tx:
                fifo = "rx" if not self._is_tx else ("tx" if not self._is_rx else "txrx")
            else:  # CircuitPython joins the FIFO a program does not use into the other
                fifo = "tx" if not pushes else ("rx" if not pulls else "txrx")
        self._rx_depth = 8 if fifo == "rx" else (0 if fifo == "tx" else 4)
        self._tx_depth = 8 if fifo == "tx" else (0 if fifo == "rx" else 4)
        self._pins = []
        for key in ("first_out_pin", "first_in_pin", "first_set_pin", "first_sideset_pin", "jmp_pin"):
            pin = opts[key]
            if pin is not None and pin not in self._pins:
                claim(pin, self)
                self._pins.append(pin)
        self._key = id(program)  # CircuitPython shares a program by its buffer's address
        placed = _claim(w, self._key, len(words))
        if placed is None:
            for pin in self._pins:
                release(pin)
            raise RuntimeError("All state machines in use")
        self._block, self.offset = placed
        used[0] += 1
        self.frequency = w.cpu_hz * 256 // div256
        self._baud = frequency // 8
        self._wait_for_txstall = opts["wait_for_txstall"]
        self._rx = deque()
        self.lost = 0
        self._rxstall = False
        self._txstall = False
        self._transmitter = None
        # background_write: the buffers handed over, the first being fed, and where it is.
        self._dma_buffers = deque()
        self._dma_index = 0
        # CircuitPython's ``writing`` reads a flag its object starts with cleared (zeroed
        # memory): True until a background write has completed.
        self._dma_completed = False
        # background_read: the ring the DMA fills, the slot it fills next, the slot the firmware
        # reads next and how many it has not read.
        self._read_ring = None
        self._read_at = 0
        self._firmware_at = 0
        self._unread = 0
        if self._is_rx:
            if opts["first_in_pin"] is None:
                raise ValueError("Missing first_in_pin. Instruction 0 reads pin(s)")
            w.attach_receiver(opts["first_in_pin"].number, self)
            self._rx_pin = opts["first_in_pin"]
        if self._is_tx:
            if opts["first_out_pin"] is None:
                raise ValueError("Missing first_out_pin. Instruction 1 shifts out to pin(s)")
            # The FIFO plus the OSR holding the byte being shifted out.
            self._transmitter = Transmitter(w.tx_wire(opts["first_out_pin"].number), self._tx_depth + 1, self._baud)
        if not (self._is_rx or self._is_tx) and not has_pins and _Core.supports(words, opts):
            self._core = _Core(words, opts, w.now_ns, div256 * 1_000_000_000 // w.cpu_hz, self._rx_depth, self._tx_depth)
            self._has_in = pushes
            self._has_out = pulls
        self._deinited = False

    # -- the interpreter's view ----------------------------------------------------------------

    def _now(self):
        """Run the interpreted program up to the present; its core."""
        core = self._core
        core.run_to(core.cycle_at(_world.current().now_ns))
        return core

    @property
    def push_times(self):
        """Virtual times (ns) of the interpreted program's pushes (a test aid, not rp2pio's)."""
        return list(self._now().push_times) if self._core else []

    # -- wire side ---------------------------------------------------------------------------

    def rx_byte(self, b, baud):
        if baud != self._baud:
            self.lost += 1
        elif self._read_ring is not None:
            # background_read's DMA moves the byte from the FIFO at once into the ring, which it
            # fills over and over. The firmware marks a slot it has read with a value over 0xFF
            # (firmware/ports.py pio_in), which the DMA never writes: a slot still holding a byte
            # is one never read, lost as the DMA writes over it.
            ring = self._read_ring
            at = self._read_at
            if ring[at] <= 0xFF:
                self.lost += 1
            else:
                self._unread += 1
            ring[at] = b
            self._read_at = (at + 1) % len(ring)
        elif len(self._rx) >= self._rx_depth:
            # The program's blocking push stalls, so the state machine misses the byte.
            self._rxstall = True
            self.lost += 1
        else:
            self._rx.append(b)

    def rx_pending(self):
        if self._read_ring is not None:
            return self._unread
        return len(self._rx)

    def taken(self):
        """Ring slots the firmware has read since the last call, in the order the DMA filled
        them (it marks each with a value over 0xFF). The call-only cost model charges them."""
        ring = self._read_ring
        n = 0
        while self._unread and ring[self._firmware_at] > 0xFF:
            self._firmware_at = (self._firmware_at + 1) % len(ring)
            self._unread -= 1
            n += 1
        return n

    # -- CircuitPython API -------------------------------------------------------------------

    def _check(self):
        if self._deinited:
            raise ValueError("Object has been deinitialized and can no longer be used. Create a new object.")

    @property
    def in_waiting(self):
        self._check()
        w = _world.current()
        w.charge_read(w.cost("PIO_IN_WAITING"), 0)
        if self._core is not None:
            return len(self._now().rx)
        return len(self._rx)

    @property
    def rxstall(self):
        self._check()
        _world.current().charge(costs.DEFAULT_CALL)
        if self._core is not None:
            return self._now().rxstall
        return self._rxstall

    @property
    def txstall(self):
        self._check()
        if self._core is not None:
            return self._now().txstall
        return self._txstall

    def readinto(self, buffer, *, start=0, end=None, swap=False):
        self._check()
        w = _world.current()
        if end is None:
            end = len(buffer)
        n = end - start
        if self._core is not None:
            if not self._has_in:
                raise RuntimeError("No in in program")
            core = self._now()
            if len(core.rx) < n:
                core.wait_for(lambda: len(core.rx) >= n)
                w.advance_to(core.time_of(core.cycle))
            w.charge(costs.PIO_READINTO)
            size = memoryview(buffer).itemsize
            mask = (1 << (8 * size)) - 1
            for k in range(start, end):
                buffer[k] = core.rx.popleft() & mask
            return
        while len(self._rx) < n:
            nxt = w.next_event_ns()
            if nxt is None:
                raise RuntimeError("readinto would wait forever (no more input)")
            w.advance_to(nxt)
        w.charge(costs.DEFAULT_CALL)
        if not w.python_costs:
            w.charge(costs.PER_BYTE_PATH * n)
        for k in range(start, end):
            buffer[k] = self._rx.popleft()

    def write(self, buffer, *, start=0, end=None, swap=False):
        self._check()
        w = _world.current()
        if self._core is not None:
            if not self._has_out:
                raise RuntimeError("No out in program")
            size = memoryview(buffer).itemsize
            words = [v * {1: 0x01010101, 2: 0x00010001}.get(size, 1) & _WORD for v in buffer[start:end]]
            w.charge(w.cost("PIO_WRITE_BASE"))
            core = self._now()
            for v in words:
                if len(core.tx) >= core.tx_depth:
                    core.wait_for(lambda: len(core.tx) < core.tx_depth)
                    w.advance_to(core.time_of(core.cycle))
                core.tx.append(v)
            # CircuitPython returns once the state machine has pulled every word (the TX FIFO is
            # empty), whatever wait_for_txstall says.
            if core.tx:
                core.wait_for(lambda: not core.tx)
                w.advance_to(core.time_of(core.cycle))
            return
        if self._transmitter is None:
            raise RuntimeError("No TX FIFO")
        data = bytes(buffer[start:end])
        w.charge(w.cost("PIO_WRITE_BASE") + costs.UART_WRITE_PER_BYTE * len(data))
        self._transmitter.put(data)
        if self._wait_for_txstall:
            while not self._transmitter.idle():
                w.advance_to(w.next_event_ns())

    def background_write(self, once=None, *, loop=None, loop2=None, swap=False):
        """DMA ``once`` into the TX FIFO as it drains; the buffer is read as each byte moves,
        as the DMA does. Waits while a buffer handed over before has not started."""
        self._check()
        if loop is not None or loop2 is not None or swap:
            raise NotImplementedError("the simulator models background_write(once) only")
        if self._transmitter is None:
            raise RuntimeError("No TX FIFO")
        w = _world.current()
        w.charge(w.cost("PIO_BACKGROUND_WRITE"))
        if once is None or not len(once):
            return
        while self.pending_write:
            w.advance_to(w.next_event_ns())
        self._dma_buffers.append(memoryview(once))
        self._dma_completed = False
        self._transmitter.dma = self._dma_next
        self._transmitter.feed()

    def background_read(self, once=None, *, loop=None, loop2=None, swap=False):
        """DMA the RX FIFO into ``loop`` forever (the simulator models this use only). The
        program must push its byte in bits 7-0 for 16-bit slots to hold it."""
        self._check()
        if once is not None or loop2 is not None or swap or loop is None:
            raise NotImplementedError("the simulator models background_read(loop=ring) only")
        if not self._is_rx:
            raise RuntimeError("No in in program")
        if memoryview(loop).itemsize != 2:
            raise NotImplementedError("the simulator models a ring of 16-bit slots only")
        self._read_ring = loop  # made at start-up, which takes no virtual time, as the machine
        self._read_at = 0
        _world.current().ring_inputs.append(self)
        pending = list(self._rx)  # what the FIFO holds goes first
        self._rx.clear()
        for b in pending:
            self.rx_byte(b, self._baud)

    def _dma_next(self):
        buffers = self._dma_buffers
        if not buffers:
            return None
        buf = buffers[0]
        b = buf[self._dma_index]
        self._dma_index += 1
        if self._dma_index >= len(buf):
            buffers.popleft()
            self._dma_index = 0
            if not buffers:
                self._dma_completed = True
        return b

    @property
    def pending_write(self):
        """Buffers handed to background_write that the DMA has not started."""
        self._check()
        w = _world.current()
        w.charge(w.cost("PIO_PENDING_WRITE"))
        return len(self._dma_buffers) - 1 if self._dma_buffers else 0

    @property
    def writing(self):
        self._check()
        _world.current().charge(costs.DEFAULT_CALL)
        return not self._dma_completed

    def clear_rxfifo(self):
        self._check()
        _world.current().charge(costs.DEFAULT_CALL)
        if self._core is not None:
            core = self._now()
            core.rx.clear()
            core.rxstall = False
            return
        self._rx.clear()
        self._rxstall = False

    def clear_txstall(self):
        self._check()
        if self._core is not None:
            self._now().txstall = False
        self._txstall = False

    def restart(self):
        self._check()
        w = _world.current()
        w.charge(costs.DEFAULT_CALL)
        if self._core is not None:
            core = self._core
            core.restart(core.cycle_at(w.now_ns))

    def stop(self):
        self._check()
        if self._core is not None:
            self._now().enabled = False

    def deinit(self):
        if not self._deinited:
            w = _world.current()
            if self._is_rx:
                w.attach_receiver(self._rx_pin.number, None)
            for pin in self._pins:
                release(pin)
            w.pio_state_machines[0] -= 1
            _unclaim(w, self._block, self._key)
            self._deinited = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()
