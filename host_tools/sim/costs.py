"""CPU time charged to the virtual clock for each call into fake hardware.

Figures are the ones measured on CircuitPython 10.3 for the Pico (RP2040 at 125 MHz, 8 ns a
cycle; docs/design.md, "CircuitPython costs", and the board engine). A hardware call is charged
its own cost here; the firmware's Python between the calls is charged per byte (the ``calls``
model) or, by default, operation by operation (``PY_OP_CYCLES``, counted by ``pycost``). The
README's "Timing model" section explains both.
"""

CYCLE_NS = 8  # 125 MHz
# The clock these costs are at. The firmware sets its own (firmware/board_io.py); World.charge
# scales each cost to it: the interpreter is CPU bound.
UNIT_HZ = 1_000_000_000 // CYCLE_NS


def cycles(n):
    return n * CYCLE_NS


# The call-only model (``--cost-model calls``, README "Timing model"): the firmware's Python is
# not traced; each port read is charged the loop's Python around it, and each byte a read hands
# over the parse/route/queue path of a fast-path probe (docs/design.md, "Timing model"). The
# Python model (the default, pycost.py) charges the Python itself instead and leaves these out.
PER_READ_OVERHEAD = cycles(2500)
PER_BYTE_PATH = cycles(3500)

# Reads and writes of ports.
UART_READINTO = cycles(1505)  # readinto on a UART, empty or not
# The call-only model's figure for the firmware's poll of a UART input (ports.uart_in's read: a
# Python call and in_waiting): busio's readinto and 535 more, as the board engine's idle pass grew
# when the two UART inputs took it (make bench: 18,717 -> 19,786 cycles).
UART_POLL = cycles(1505 + 535)
UART_WRITE_BASE = cycles(1150)  # uart.write(view) with no allocation
UART_WRITE_PER_BYTE = cycles(20)
PIO_READINTO = cycles(1505)  # rp2pio StateMachine.readinto
PIO_IN_WAITING = cycles(1505)  # the call-only model's figure (same order as busio) ...
PIO_RING_POLL = UART_READINTO  # the call-only model's figure for a PIO input's read (ports.pio_in's read), as busio's
PIO_WRITE_BASE = cycles(1150)
PIO_BACKGROUND_WRITE = cycles(1150)  # a PIO output's write (firmware/ports.py), as PIO_WRITE_BASE
PIO_PENDING_WRITE = cycles(250)  # the property it reads first, as PIO_IN_WAITING
USB_READINTO = cycles(1505)
USB_WRITE_BASE = cycles(1150)
# ... and what the board engine measured (calibrate --ops style, one call between two passes'
# marks), charged by the Python model. The call-only model keeps its older figures: its per-byte
# costs were fitted with them, and its tests hold timings made with them.
MEASURED = {
    "PIO_IN_WAITING": cycles(250),  # a property read
    "PIO_WRITE_BASE": cycles(4000),  # one byte into an empty FIFO
    "PIO_BACKGROUND_WRITE": cycles(2600),  # one byte
    "PIO_PENDING_WRITE": cycles(640),
    "USB_READINTO": cycles(800),  # nothing waiting
    "USB_WRITE_BASE": cycles(3400),  # one message
}

# Time and pins.
TICKS_MS = cycles(409)
MONOTONIC = cycles(750)  # 6 us
MONOTONIC_NS = cycles(1125)  # 9 us (and 32 bytes allocated on the board)
PIN_WRITE = cycles(506)
PIN_READ = cycles(506)
SPI_WRITE_BASE = cycles(1500)
I2C_WRITETO_CPU = cycles(2150)  # CPU side; the bus time is added by the I2C fake
NEOPIXEL_SHOW = cycles(2000)  # plus 30 us a pixel on the wire, not blocking the CPU long

# Floor for a call the firmware makes that is not listed: an attribute load and a call.
DEFAULT_CALL = cycles(900)

# The firmware's own Python, per bytecode operation, in board cycles: measured on the board
# engine (CircuitPython 10.3 on the emulated Pico, ``python -m host_tools calibrate --ops``;
# docs/design.md has the table) as statements in a loop less the empty loop, split into the
# operations CPython 3.11 compiles the same statements to. Names are CPython's opcodes; a second
# word narrows one (an operator, or a `for ... in range` loop, which MicroPython runs as a counter).
PY_OP_CYCLES = {
    "LOAD_FAST": 25, "STORE_FAST": 25, "LOAD_CONST": 20, "LOAD_DEREF": 40, "STORE_DEREF": 40,
    "LOAD_GLOBAL": 137, "STORE_GLOBAL": 160, "LOAD_ATTR": 150, "STORE_ATTR": 258,
    "LOAD_METHOD": 770,  # plus PY_METHOD_PER_ATTRIBUTE a attribute of self, for self.method
    "BINARY_SUBSCR": 260, "STORE_SUBSCR": 350, "BINARY_OP": 100, "BINARY_OP //": 155, "BINARY_OP %": 160,
    "BINARY_OP //=": 155, "BINARY_OP %=": 160, "COMPARE_OP": 100, "IS_OP": 80, "CONTAINS_OP": 300,
    "UNARY_NOT": 60, "UNARY_NEGATIVE": 60, "UNARY_INVERT": 60,
    "POP_JUMP_FORWARD_IF_FALSE": 95, "POP_JUMP_FORWARD_IF_TRUE": 95, "POP_JUMP_BACKWARD_IF_FALSE": 95,
    "POP_JUMP_BACKWARD_IF_TRUE": 95, "POP_JUMP_FORWARD_IF_NONE": 95, "POP_JUMP_FORWARD_IF_NOT_NONE": 95,
    "POP_JUMP_BACKWARD_IF_NONE": 95, "POP_JUMP_BACKWARD_IF_NOT_NONE": 95, "JUMP_IF_FALSE_OR_POP": 95,
    "JUMP_IF_TRUE_OR_POP": 95, "JUMP_FORWARD": 40, "JUMP_BACKWARD": 0, "JUMP_BACKWARD_NO_INTERRUPT": 0,
    # A loop iteration, its jump back included: over a memoryview 350, a list 135 (the hot loops
    # walk views); a range loop 445 (plus its STORE_FAST), its set-up 230.
    "FOR_ITER": 325, "FOR_ITER range": 445, "GET_ITER": 230, "LOAD_GLOBAL range": 0, "CALL range": 0,
    # A call: CALL the argument handling, PY_FRAME_CYCLES entering a firmware function (with its
    # RETURN_VALUE: 770 a plain call, as measured); a built-in function 1,300 in all.
    "CALL": 150, "CALL builtin": 1300, "CALL_FUNCTION_EX": 1200, "RETURN_VALUE": 100,
    "POP_TOP": 25, "COPY": 25, "SWAP": 25, "UNPACK_SEQUENCE": 150, "BUILD_TUPLE": 400,
    "BUILD_LIST": 400, "BUILD_MAP": 600, "LIST_APPEND": 250, "BUILD_SLICE": 300,
    # Bookkeeping of CPython's own that MicroPython's bytecode does not have.
    "RESUME": 0, "NOP": 0, "CACHE": 0, "PRECALL": 0, "PUSH_NULL": 0, "KW_NAMES": 0, "EXTENDED_ARG": 0,
}
PY_OP_DEFAULT = 100  # any other operation
PY_FRAME_CYCLES = 520
PY_METHOD_PER_ATTRIBUTE = 16  # 770 on an object of 2 attributes, 1,890 on one of 70 (measured)
PY_BUILTIN_METHOD_LOOKUP = 150  # a built-in type's method (dict.get, list.append): its look-up
# The one factor fitted against the board engine on the reference session (host_tools/calibration.py).
PY_SCALE = 1.2
