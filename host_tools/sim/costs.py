"""CPU time charged to the virtual clock for each call into fake hardware.

Figures are the ones measured on CircuitPython 10.3 for the Pico (RP2040 at 125 MHz, 8 ns a
cycle; docs/design.md). A hardware call is charged its own cost here; the firmware's Python
between the calls is charged operation by operation (``PY_OP_CYCLES``, counted by
``pycost``). The README's "Timing model" section explains the resulting loop period.
"""

CYCLE_NS = 8  # 125 MHz


def cycles(n):
    return n * CYCLE_NS


# Reads and writes of ports.
UART_READINTO = cycles(1505)  # readinto on a UART, empty or not
UART_WRITE_BASE = cycles(1150)  # uart.write(view) with no allocation
UART_WRITE_PER_BYTE = cycles(20)
PIO_READINTO = cycles(1505)  # rp2pio StateMachine.readinto / in_waiting: same order as busio
PIO_WRITE_BASE = cycles(1150)
USB_READINTO = cycles(1505)
USB_WRITE_BASE = cycles(1150)

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

# The firmware's own Python, per bytecode operation, in board cycles (CircuitPython 10.3 on the
# Pico, docs/design.md: local load 52, const 45, global load 180, attribute load 221 / store 325,
# bytearray read 321 and write 429 with their loads, a plain call 830-960, a bound method call
# about 1,590, `for b in view` 279 a byte). Operations that allocate (building a tuple or a list)
# cost more; the firmware does not do them while playing. Names are CPython 3.11's opcodes.
PY_OP_CYCLES = {
    "LOAD_FAST": 52, "STORE_FAST": 52, "LOAD_CONST": 45, "LOAD_DEREF": 60, "STORE_DEREF": 60,
    "LOAD_GLOBAL": 180, "STORE_GLOBAL": 200, "LOAD_ATTR": 221, "STORE_ATTR": 325, "LOAD_METHOD": 400,
    "BINARY_SUBSCR": 220, "STORE_SUBSCR": 280, "BINARY_OP": 100, "COMPARE_OP": 100, "IS_OP": 80,
    "CONTAINS_OP": 300, "UNARY_NOT": 60, "UNARY_NEGATIVE": 60, "UNARY_INVERT": 60,
    "POP_JUMP_FORWARD_IF_FALSE": 76, "POP_JUMP_FORWARD_IF_TRUE": 76, "POP_JUMP_BACKWARD_IF_FALSE": 76,
    "POP_JUMP_BACKWARD_IF_TRUE": 76, "POP_JUMP_FORWARD_IF_NONE": 76, "POP_JUMP_FORWARD_IF_NOT_NONE": 76,
    "POP_JUMP_BACKWARD_IF_NONE": 76, "POP_JUMP_BACKWARD_IF_NOT_NONE": 76, "JUMP_IF_FALSE_OR_POP": 76,
    "JUMP_IF_TRUE_OR_POP": 76, "JUMP_FORWARD": 40, "JUMP_BACKWARD": 40, "JUMP_BACKWARD_NO_INTERRUPT": 40,
    "FOR_ITER": 190, "GET_ITER": 200, "CALL": 800, "CALL_FUNCTION_EX": 1200, "RETURN_VALUE": 100,
    "POP_TOP": 30, "COPY": 30, "SWAP": 30, "UNPACK_SEQUENCE": 150, "BUILD_TUPLE": 400,
    "BUILD_LIST": 400, "BUILD_MAP": 600, "LIST_APPEND": 250, "BUILD_SLICE": 300,
    # Bookkeeping of CPython's own that MicroPython's bytecode does not have.
    "RESUME": 0, "NOP": 0, "CACHE": 0, "PRECALL": 0, "PUSH_NULL": 0, "KW_NAMES": 0, "EXTENDED_ARG": 0,
}
PY_OP_DEFAULT = 100  # any other operation
# The one factor fitted against the board engine on the reference streams (tests/test_calibration.py).
PY_SCALE = 1.0
