"""The one module that touches hardware: builds the box's ports and pins from ``pinmap``.

Everything it returns is wrapped in the plain classes of ``ports`` (and later the CV and panel
modules), so the rest of the firmware never imports ``board``, ``busio`` and friends, and the
simulator runs it unchanged against fakes of those modules.

A part that fails to start (a PIO port, USB) is left out and reported in ``faults``; the box
routes MIDI without it (docs/design.md, "Degrade, never stop").
"""

import array

import board
import busio
import digitalio
import microcontroller
import rp2pio
import supervisor
from micropython import const

from firmware import pinmap, ports

if board.board_id == pinmap.USB_HOST_BOARD:
    from firmware import pinmap_usbhost as pinmap  # type: ignore[no-redef]  # the USB host variant (docs/usb-host.md)

MIDI_BAUD = 31250
# 256 bytes = 82 ms of a full-rate input: the longest stall of the main loop on the board, a
# garbage collection (8-20 ms, which start-up makes before playing; a preset switch's passes are
# under 3 ms, docs/board-engine.md), never loses input, with room to spare. Each byte of it is
# heap.
UART_RX_BUFFER = 256

# The PIO UART programs of adafruit_pio_uart 1.1.6, assembled once with adafruit_pioasm 1.3.8
# (tests/test_board_io.py re-assembles and compares). That library is not used itself: its
# readinto slices a memoryview and reads time.monotonic() on every call (an allocation per pass),
# and it does not join the FIFOs.
#   rx: start: wait 0 pin 0 / set x, 7 [10] / bitloop: in pins, 1 / jmp x-- bitloop [6] /
#       jmp pin good_stop / wait 1 pin 0 / jmp start / good_stop: in null, 24 / push
# (adafruit_pio_uart's rx plus ``in null, 24``: the byte is pushed in bits 7-0, so the input's
# DMA moves it in 16 bits, firmware.ports.pio_in; one cycle more, still inside the stop bit)
#   tx: .side_set 1 opt / pull side 1 [7] / set x, 7 side 0 [7] / bitloop: out pins, 1 /
#       jmp x-- bitloop [6]
PIO_RX_PROGRAM = array.array("H", (0x2020, 0xEA27, 0x4001, 0x0642, 0x00C7, 0x20A0, 0x0000, 0x4078, 0x8020))
PIO_TX_PROGRAM = array.array("H", (0x9FA0, 0xF727, 0x6001, 0x0642))

# The clock's PIO timers (firmware/clock.py; tests/test_board_io.py re-assembles them). No pins.
# The metronome counts the intervals the clock writes, one after the other with no gap, and
# pushes a token as each one ends. CircuitPython's write returns only once the TX FIFO is empty,
# so the program takes the next interval into the OSR while it counts (a one-word mailbox;
# written nothing, it counts the last interval again):
#       pull block               ; start: wait for the first interval
#   .wrap_target
#       mov x, osr               ; 1 cycle
#   loop:
#       jmp x-- poll             ; 1 (x > 0) | 1 (x = 0: the interval is over)
#       push block [2]           ; 3: the token
#   .wrap
#   poll:
#       mov y, status            ; 1: all ones while the TX FIFO is empty (mov_status_n=1)
#       jmp !y take              ; 1
#       jmp loop [1]             ; 2
#   take:
#       pull noblock             ; 1: the next interval, into the OSR
#       jmp loop                 ; 1
# A count is 5 cycles either way (1 us at 5 MHz): a word n counts 1 + 5n + 1 + 3 = 5(n + 1)
# cycles, token to token: n + 1 us. (Only the first interval after the start pull is 3 cycles
# shorter; its start is known to the ms anyway.)
PIO_METRONOME_PROGRAM = array.array("H", (0x80A0, 0xA027, 0x0044, 0x8220, 0xA045, 0x0067, 0x0102, 0x8080, 0x0002))
METRONOME_HZ = 5000000  # 125 MHz / 25: an integer divider, so no divider jitter and no drift
# The one-shot times a clock pulse's end: it waits for a word n and pushes a token n + 4 cycles
# (us at 1 MHz) later: pull (1), mov (1), n + 1 rounds of the jmp, push (1).
#       pull block / mov x, osr / loop: jmp x-- loop / push block
PIO_ONE_SHOT_PROGRAM = array.array("H", (0x80A0, 0xA027, 0x0042, 0x8020))
ONE_SHOT_HZ = 1000000


CONFIG_READ_LIMIT = 16385  # config.MAX_CONFIG_BYTES + 1 (tests/test_config.py checks)
DAC_I2C_HZ = 400000
DAC_PITCH_ADDRESS = 0x60
DAC_MOD_ADDRESS = 0x64
DRUM_SPI_HZ = 1000000
# The CPU clock, set before any peripheral computes its divider from it (a UART or state machine
# made before keeps its old one: the wrong baud). The interpreter is CPU bound, so every pass
# takes 125/200 of its time at 125 MHz (docs/board-engine.md, "The CPU clock"); 200 MHz is the
# RP2040's certified maximum, which CircuitPython powers at 1.20 V.
_CPU_HZ = const(200000000)
# Pico-PIO-USB's bit timing needs a CPU clock that is a multiple of 120 MHz (docs/usb-host.md).
# (The USB host variant's names here are few and private: every name this module holds costs the
# plain Pico heap for good, as a qstr.)
_USB_HOST_CPU_HZ = const(120000000)


def _pin(name):
    return getattr(board, name)


def _out(name):
    pin = digitalio.DigitalInOut(_pin(name))
    pin.switch_to_output(value=False)
    return pin


def _in(name):
    pin = digitalio.DigitalInOut(_pin(name))
    pin.switch_to_input(pull=digitalio.Pull.UP)
    return pin


def _probe(i2c, address):
    # Only the two DAC addresses: a full scan takes milliseconds of bus time at boot.
    while not i2c.try_lock():
        pass
    try:
        return i2c.probe(address)
    finally:
        i2c.unlock()


def _uart(tx, rx):
    return busio.UART(
        tx=_pin(tx),
        rx=_pin(rx),
        baudrate=MIDI_BAUD,
        timeout=0,
        receiver_buffer_size=UART_RX_BUFFER,
    )


def _pio_rx(rx):
    return ports.pio_in(_pio_rx_machine(rx))


def _pio_rx_machine(rx):
    return rp2pio.StateMachine(
        PIO_RX_PROGRAM,
        frequency=8 * MIDI_BAUD,
        first_in_pin=_pin(rx),
        jmp_pin=_pin(rx),
        push_threshold=8,
        fifo_type="rx",
    )


def _pio_tx(tx):
    return ports.Wire(ports.WIRE_PIO, _pio_tx_machine(tx))


def _pio_tx_machine(tx):
    return rp2pio.StateMachine(
        PIO_TX_PROGRAM,
        frequency=8 * MIDI_BAUD,
        first_out_pin=_pin(tx),
        first_sideset_pin=_pin(tx),
        sideset_enable=True,
        initial_sideset_pin_state=1,
        initial_sideset_pin_direction=1,
        initial_out_pin_state=1,
        initial_out_pin_direction=1,
        # rp2pio's default (True) makes every write wait until the byte has left the wire.
        wait_for_txstall=False,
        fifo_type="tx",
    )


def _metronome():
    return rp2pio.StateMachine(
        PIO_METRONOME_PROGRAM,
        frequency=METRONOME_HZ,
        wrap_target=1,
        wrap=3,
        mov_status_type="txfifo",
        mov_status_n=1,
        fifo_type="txrx",
    )


def _one_shot():
    return rp2pio.StateMachine(PIO_ONE_SHOT_PROGRAM, frequency=ONE_SHOT_HZ, fifo_type="txrx")


class Hardware:
    """Ports in the router's order (``router.INPUTS`` / ``router.OUTPUTS``); None where absent."""

    def __init__(self):
        self.inputs = [None, None, None, None, None]  # type: list
        self.outputs = [None, None, None, None, None, None]  # type: list  # [5]: cv, set by app
        self.faults = []
        self.ticks_ms = supervisor.ticks_ms
        # First of all (see _CPU_HZ).
        microcontroller.cpu.frequency = _USB_HOST_CPU_HZ if hasattr(pinmap, "USB_HOST_DP") else _CPU_HZ
        for k, (tx, rx) in enumerate(((pinmap.MIDI_OUT1, pinmap.MIDI_IN1), (pinmap.MIDI_OUT2, pinmap.MIDI_IN2))):
            try:
                uart = _uart(tx, rx)
                self.inputs[k] = ports.uart_in(uart)
                self.outputs[k] = ports.Wire(ports.WIRE_UART, uart)
            except (ValueError, RuntimeError) as e:
                self.faults.append("din%d: %s" % (k + 1, e))
        for k, (tx, rx) in ((2, (pinmap.MIDI_OUT3, pinmap.MIDI_IN3)), (3, (pinmap.MIDI_OUT4, pinmap.MIDI_IN4))):
            try:
                self.inputs[k] = _pio_rx(rx)
                self.outputs[k] = _pio_tx(tx)
            except (ValueError, RuntimeError) as e:
                self.faults.append("din%d (PIO): %s" % (k + 1, e))
        self._timers()
        self._usb()
        self._jacks()
        self._panel()

    def _timers(self):
        # The clock's PIO metronome and pulse one-shot (firmware/clock.py), after the DIN ports:
        # 4 + 2 of the 8 state machines, one left for neopixel_write, which borrows one per call.
        # Without them the clock runs on the ms tick.
        self.metronome = None
        self.pulse_timer = None
        try:
            self.metronome = _metronome()
        except (ValueError, RuntimeError) as e:
            self.faults.append("clock metronome (PIO): %s; clock on the ms tick" % e)
            return
        try:
            self.pulse_timer = _one_shot()
        except (ValueError, RuntimeError) as e:
            self.faults.append("clock pulse one-shot (PIO): %s; pulses end on the ms tick" % e)

    def _jacks(self):
        # CV/gate side: raw handles; firmware.cv and firmware.clock drive them. A DAC that does
        # not answer is found here once (a missing device costs a 1 s I2C timeout per write).
        self.i2c = None
        try:
            self.i2c = busio.I2C(_pin(pinmap.DAC_SCL), _pin(pinmap.DAC_SDA), frequency=DAC_I2C_HZ)
            for address in (DAC_PITCH_ADDRESS, DAC_MOD_ADDRESS):
                if not _probe(self.i2c, address):
                    self.faults.append("dac 0x%02x: no answer on I2C; CV off" % address)
        except (ValueError, RuntimeError) as e:
            self.faults.append("dac: %s" % e)
        self.gate_pins = [_out(name) for name in (pinmap.GATE1, pinmap.GATE2, pinmap.GATE3, pinmap.GATE4)]
        self.clock_out = _out(pinmap.CLOCK_OUT)
        self.reset_out = _out(pinmap.RESET_OUT)
        self.run_out = _out(pinmap.RUN_OUT)
        self.clock_in = _in(pinmap.CLOCK_IN)
        self.drum_spi = None
        self.drum_latch = _out(pinmap.DRUM_LATCH)
        try:
            spi = busio.SPI(_pin(pinmap.DRUM_SCK), MOSI=_pin(pinmap.DRUM_MOSI))
            while not spi.try_lock():
                pass
            spi.configure(baudrate=DRUM_SPI_HZ)
            self.drum_spi = spi  # stays locked: the drum writer is its only user
        except (ValueError, RuntimeError) as e:
            self.faults.append("drums: %s" % e)

    def _panel(self):
        if hasattr(pinmap, "BUTTONS"):
            # The USB host variant: the four buttons on one ADC pin (firmware/button_ladder.py).
            import analogio

            from firmware import button_ladder

            self.buttons = button_ladder.buttons(analogio.AnalogIn(_pin(pinmap.BUTTONS)))
        else:
            self.buttons = [_in(name) for name in (pinmap.BUTTON1, pinmap.BUTTON2, pinmap.BUTTON3, pinmap.BUTTON4)]
        self.leds_pin = _out(pinmap.LEDS)
        self.nvm = microcontroller.nvm
        self.watchdog = getattr(microcontroller, "watchdog", None)
        # The LED chain's writer for firmware.panel: neopixel_write of the panel's 27-byte
        # buffer (it blocks for the wire time, about 270 us for 9 pixels).
        self.write_leds = None
        try:
            import neopixel_write

            # A method of a ports class, not a closure here: this module leaves the heap after
            # start-up (app._start), and a function of it would keep all of it.
            self.write_leds = ports.LedChain(neopixel_write.neopixel_write, self.leds_pin).write
        except ImportError:
            self.faults.append("leds: no neopixel_write module")

    def start_watchdog(self, timeout):
        """Arm the hardware watchdog in RESET mode: unfed for ``timeout`` seconds, the board
        restarts (and, on the RP2040, it cannot be disarmed again). Returns it, or None."""
        wd = self.watchdog
        if wd is None:
            return None
        try:
            from watchdog import WatchDogMode
        except ImportError:
            return None
        wd.timeout = timeout
        wd.mode = WatchDogMode.RESET
        wd.feed()
        return wd

    def _usb(self):
        # The USB host port (usbh), where the pin map has one: a whole PIO block (the RP2350's
        # third, the DIN ports and clock timers fill two). Its socket's 5 V (a load switch) is
        # switched on once the port is open. Input after usb, output after cv (firmware/router.py).
        self.usb_host = None
        if hasattr(pinmap, "USB_HOST_DP"):
            try:
                import usb.core
                import usb_host

                host = usb_host.Port(_pin(pinmap.USB_HOST_DP), _pin(pinmap.USB_HOST_DM))  # type: ignore[attr-defined]
                power = _out(pinmap.USB_HOST_EN)  # type: ignore[attr-defined]
                power.value = True
                from firmware import router, usb_host_port

                self.usb_host = usb_host_port.UsbHostPort(
                    usb.core.find, usb.core.USBTimeoutError, usb.core.USBError, supervisor.ticks_ms,
                    router.INPUTS.index("usbh"), (host, power))
                self.inputs.append(self.usb_host)
                self.outputs.append(self.usb_host)
            except (ImportError, ValueError, RuntimeError) as e:
                self.faults.append("usb host: %s" % e)
        try:
            import usb_midi
        except ImportError:
            self.faults.append("usb: no usb_midi module")
            return
        port_in = None
        port_out = None
        for port in usb_midi.ports:
            if isinstance(port, usb_midi.PortIn):
                port_in = port
            elif isinstance(port, usb_midi.PortOut):
                port_out = port
        if port_in is None or port_out is None:
            self.faults.append("usb: USB MIDI is not enabled (boot.py)")
            return
        self.inputs[4] = ports.StreamIn(port_in)
        self.outputs[4] = ports.Wire(ports.WIRE_USB, port_out)

    def read_config(self):
        """The bytes of config.json on the CIRCUITPY drive, or None if there is none. Bytes, not
        text: CircuitPython's text mode raises on bytes that are not UTF-8, and the checker
        (firmware.config) says in words what is wrong with any file."""
        try:
            with open("config.json", "rb") as f:
                # At most one byte past config.MAX_CONFIG_BYTES: a huge file is refused by the
                # checker, never read whole into the heap.
                return f.read(CONFIG_READ_LIMIT)
        except OSError:
            return None
