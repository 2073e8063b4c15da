"""CPU time charged to the virtual clock for each call into fake hardware.

Figures are the ones measured on CircuitPython 10.3 for the Pico (RP2040 at 125 MHz, 8 ns a
cycle): docs/design.md, "CircuitPython costs". The firmware's own Python between hardware calls is
not observable from the fakes, so its cost is charged where it is caused: per byte that a read
hands to the firmware (``PER_BYTE_PATH``) and per pass of the main loop (the reads themselves).
The README's "Timing model" section explains the resulting loop period.
"""

CYCLE_NS = 8  # 125 MHz


def cycles(n):
    return n * CYCLE_NS


# The Python around each port read in the main loop (a call, a branch, the loop step); charged
# with each read, so an idle pass over five inputs costs about 160 us.
PER_READ_OVERHEAD = cycles(2500)

# Reads and writes of ports.
UART_READINTO = cycles(1505)  # readinto on a UART, empty or not
UART_WRITE_BASE = cycles(1150)  # uart.write(view) with no allocation
UART_WRITE_PER_BYTE = cycles(20)
PIO_READINTO = cycles(1505)  # rp2pio StateMachine.readinto / in_waiting: same order as busio
PIO_WRITE_BASE = cycles(1150)
USB_READINTO = cycles(1505)
USB_WRITE_BASE = cycles(1150)

# The firmware path a byte takes once read: parse, route, queue for every output. A fast-path
# probe (docs/design.md, "Timing model") cost about 3,500 cycles a byte in batches and 7,300 at one byte a pass
# (which includes that pass's read and write); 3,500 is what is left after the read and write.
PER_BYTE_PATH = cycles(3500)

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
