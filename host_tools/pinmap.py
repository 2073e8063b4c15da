"""The pin map: ``hardware/pinmap.json`` -> ``firmware/pinmap.py``, and its validation.

    python -m host_tools pinmap            write firmware/pinmap.py from hardware/pinmap.json and
                                           firmware/pinmap_usbhost.py from hardware/pinmap-usbhost.json
    python -m host_tools pinmap --check    exit 1 if either differs (or a map is invalid)

Options ``--json PATH`` and ``--out PATH`` point at other files (tests use them).

``validate_pinmap(data)`` checks a loaded pin map against the RP2040 GPIO function table
(datasheet section 2.19.2, "Function Select"), against what a Raspberry Pi Pico exposes, and against
the RP2040's peripheral budget; it returns a list of error strings (empty: valid).
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PINMAP_JSON = ROOT / "hardware" / "pinmap.json"
PINMAP_PY = ROOT / "firmware" / "pinmap.py"
# The USB host variant (docs/usb-host.md): board_io and boot.py use it on the board it names.
PINMAP_USBHOST_JSON = ROOT / "hardware" / "pinmap-usbhost.json"
PINMAP_USBHOST_PY = ROOT / "firmware" / "pinmap_usbhost.py"

HEADER = '''"""Pin assignment of the Thruway box (Raspberry Pi Pico names). ``USB_HOST_BOARD``: the board
firmware/pinmap_usbhost.py is for instead (the USB host variant, docs/usb-host.md).

Generated from hardware/pinmap.json by ``python -m host_tools pinmap``: edit that file, not this."""
'''
HEADER_USBHOST = '''"""Pin assignment of the USB host variant (docs/usb-host.md): firmware/board_io.py and boot.py use
it on the board firmware/pinmap.py names in USB_HOST_BOARD, and firmware/pinmap.py elsewhere.

Generated from hardware/pinmap-usbhost.json by ``python -m host_tools pinmap``: edit that file, not this."""
'''

# GPIOs a Raspberry Pi Pico brings out to its pins. GP23 (SMPS power save), GP24 (VBUS sense),
# GP25 (on-board LED) and GP29 (VSYS/3 on ADC3) are used on the board itself.
PICO_EXPOSED = tuple(range(0, 23)) + (26, 27, 28)

# RP2040 datasheet, table "GPIO function selects" (F1 SPI, F2 UART, F3 I2C) for GPIO0..29.
# The table repeats every 16 GPIOs for UART/I2C (UART0 on 0-3, 12-19, 28-29; UART1 on 4-11,
# 20-27) and SPI0 on 0-7 and 16-23, SPI1 on 8-15 and 24-29. Written out in full to be reviewable.
# GPIO: (F1 SPI, F2 UART, F3 I2C)
RP2040_FUNCTIONS = {
    0: ("spi0_rx", "uart0_tx", "i2c0_sda"),
    1: ("spi0_csn", "uart0_rx", "i2c0_scl"),
    2: ("spi0_sck", "uart0_cts", "i2c1_sda"),
    3: ("spi0_tx", "uart0_rts", "i2c1_scl"),
    4: ("spi0_rx", "uart1_tx", "i2c0_sda"),
    5: ("spi0_csn", "uart1_rx", "i2c0_scl"),
    6: ("spi0_sck", "uart1_cts", "i2c1_sda"),
    7: ("spi0_tx", "uart1_rts", "i2c1_scl"),
    8: ("spi1_rx", "uart1_tx", "i2c0_sda"),
    9: ("spi1_csn", "uart1_rx", "i2c0_scl"),
    10: ("spi1_sck", "uart1_cts", "i2c1_sda"),
    11: ("spi1_tx", "uart1_rts", "i2c1_scl"),
    12: ("spi1_rx", "uart0_tx", "i2c0_sda"),
    13: ("spi1_csn", "uart0_rx", "i2c0_scl"),
    14: ("spi1_sck", "uart0_cts", "i2c1_sda"),
    15: ("spi1_tx", "uart0_rts", "i2c1_scl"),
    16: ("spi0_rx", "uart0_tx", "i2c0_sda"),
    17: ("spi0_csn", "uart0_rx", "i2c0_scl"),
    18: ("spi0_sck", "uart0_cts", "i2c1_sda"),
    19: ("spi0_tx", "uart0_rts", "i2c1_scl"),
    20: ("spi0_rx", "uart1_tx", "i2c0_sda"),
    21: ("spi0_csn", "uart1_rx", "i2c0_scl"),
    22: ("spi0_sck", "uart1_cts", "i2c1_sda"),
    23: ("spi0_tx", "uart1_rts", "i2c1_scl"),
    24: ("spi1_rx", "uart1_tx", "i2c0_sda"),
    25: ("spi1_csn", "uart1_rx", "i2c0_scl"),
    26: ("spi1_sck", "uart1_cts", "i2c1_sda"),
    27: ("spi1_tx", "uart1_rts", "i2c1_scl"),
    28: ("spi1_rx", "uart0_tx", "i2c0_sda"),
    29: ("spi1_csn", "uart0_rx", "i2c0_scl"),
}

# Functions any GPIO can take (SIO, PIO, PWM). Each PIO one takes a state machine.
ANY_PIN_FUNCTIONS = ("gpio_in", "gpio_out", "pio_tx", "pio_rx", "neopixel", "pwm")
PIO_FUNCTIONS = ("pio_tx", "pio_rx", "neopixel")
# PIO blocks per board (RP2040: 2, RP2350: 3), 4 state machines each.
PIO_BLOCKS = {"raspberry_pi_pico": 2, "raspberry_pi_pico2": 3}
# Analog inputs: ADC0-ADC2 on GP26-GP28 (ADC3, GP29, reads VSYS/3 on the Pico itself).
ADC_GPIOS = (26, 27, 28, 29)
# CircuitPython's usb_host (Pico-PIO-USB, docs/usb-host.md): D+ and D- on adjacent GPIOs (this
# project keeps D- = D+ + 1, Pico-PIO-USB's default pinout) and a whole PIO block.
USB_HOST_DP, USB_HOST_DM = "usb_host_dp", "usb_host_dm"
USB_HOST_STATE_MACHINES = 4

_PERIPHERAL = re.compile(r"^(uart|i2c|spi)([01])_([a-z]+)$")


def pins_for(function):
    """The GPIO numbers (any RP2040 GPIO, exposed or not) that can carry a peripheral function."""
    return tuple(g for g, funcs in RP2040_FUNCTIONS.items() if function in funcs)


def known_functions():
    names = set(ANY_PIN_FUNCTIONS) | {"adc", USB_HOST_DP, USB_HOST_DM}
    for funcs in RP2040_FUNCTIONS.values():
        names.update(funcs)
    return names


def gpio_number(name):
    """``"GP12"`` -> 12; None if the name is not of that form."""
    m = re.fullmatch(r"GP(\d{1,2})", name) if isinstance(name, str) else None
    return int(m.group(1)) if m else None


def load_pinmap(path=PINMAP_JSON):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def validate_pinmap(data):
    """Every problem with a pin map, as one readable string each; [] when it is valid."""
    errors = []
    pins = data.get("pins") if isinstance(data, dict) else None
    if not isinstance(pins, dict) or not pins:
        return ["pinmap: 'pins' must be a non-empty object"]

    used = {}  # gpio number -> first key using it
    blocks = {}  # ("uart", "0") -> {"tx": [keys], ...}
    pio_users = []
    usb_host = {}  # function -> gpio number
    known = known_functions()
    for key, entry in pins.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
            errors.append(f"{key}: key must be lower_snake_case (it becomes the constant {key.upper()})")
        if not isinstance(entry, dict):
            errors.append(f"{key}: must be an object with 'gpio' and 'function'")
            continue
        gpio, function = entry.get("gpio"), entry.get("function")
        n = gpio_number(gpio)
        if n is None:
            errors.append(f"{key}: gpio {gpio!r} is not a GPIO name like 'GP0'")
        elif n not in PICO_EXPOSED:
            errors.append(f"{key}: {gpio} is not a GPIO a Raspberry Pi Pico exposes "
                          f"(GP0-GP22, GP26-GP28)")
        elif n in used:
            errors.append(f"{key}: {gpio} is already used by {used[n]}")
        else:
            used[n] = key
        if function not in known:
            errors.append(f"{key}: unknown function {function!r}")
            continue
        if function in PIO_FUNCTIONS:
            pio_users.append(key)
        if function == "adc" and n is not None and n not in ADC_GPIOS:
            errors.append(f"{key}: adc is not available on {gpio} (only on GP26-GP28)")
        if function in (USB_HOST_DP, USB_HOST_DM):
            if function in usb_host:
                errors.append(f"{key}: {function} is assigned more than once")
            usb_host[function] = n
        m = _PERIPHERAL.match(function)
        if m:
            kind, block, signal = m.groups()
            blocks.setdefault((kind, block), {}).setdefault(signal, []).append(key)
            if n is not None and function not in RP2040_FUNCTIONS.get(n, ()):
                allowed = ", ".join(f"GP{g}" for g in pins_for(function) if g in PICO_EXPOSED)
                errors.append(f"{key}: {function} is not available on {gpio} (only on {allowed})")

    # One signal of each kind per peripheral block, and the pairs a block needs.
    for (kind, block), signals in sorted(blocks.items()):
        name = f"{kind}{block}"
        for signal, keys in sorted(signals.items()):
            if len(keys) > 1:
                errors.append(f"{name}: {signal} is assigned more than once ({', '.join(keys)})")
        if kind == "i2c" and set(signals) != {"sda", "scl"}:
            missing = {"sda", "scl"} - set(signals)
            errors.append(f"{name}: I2C needs SDA and SCL on the same block; missing "
                          f"{', '.join(sorted(missing))}")
        if kind == "spi" and ("tx" in signals or "rx" in signals) and "sck" not in signals:
            errors.append(f"{name}: SPI data pins need the SCK of the same block")

    # A port's TX and RX on one UART block: pair keys like midi_out1 / midi_in1.
    for key, entry in pins.items():
        m = re.fullmatch(r"(.*)_out(\d+)", key)
        if not m or not isinstance(entry, dict):
            continue
        partner = pins.get(f"{m.group(1)}_in{m.group(2)}")
        if not isinstance(partner, dict):
            continue
        tx = _PERIPHERAL.match(str(entry.get("function")))
        rx = _PERIPHERAL.match(str(partner.get("function")))
        if tx and rx and tx.group(1) == rx.group(1) == "uart" and tx.group(2) != rx.group(2):
            errors.append(f"{key}/{m.group(1)}_in{m.group(2)}: TX on uart{tx.group(2)} and RX on "
                          f"uart{rx.group(2)}: a port's TX and RX must share one UART block")

    if usb_host and set(usb_host) != {USB_HOST_DP, USB_HOST_DM}:
        errors.append("usb_host: needs both usb_host_dp (D+) and usb_host_dm (D-)")
    elif usb_host and None not in usb_host.values() \
            and usb_host[USB_HOST_DM] != usb_host[USB_HOST_DP] + 1:
        errors.append(f"usb_host: D- (GP{usb_host[USB_HOST_DM]}) must be the GPIO after D+ "
                      f"(GP{usb_host[USB_HOST_DP]})")

    board = data.get("board", "raspberry_pi_pico")
    if board not in PIO_BLOCKS:
        errors.append(f"board {board!r} is not one of {', '.join(PIO_BLOCKS)}")
    blocks = PIO_BLOCKS.get(board, 2)
    chip = "RP2350" if blocks == 3 else "RP2040"
    usb_sms = USB_HOST_STATE_MACHINES if usb_host else 0
    if len(pio_users) + usb_sms > 4 * blocks:
        usb_note = " and the USB host's PIO block" if usb_sms else ""
        errors.append(f"PIO: {len(pio_users)} users ({', '.join(pio_users)}){usb_note} need more state "
                      f"machines than the {chip} has ({4 * blocks}: {blocks} PIO blocks x 4)")
    return errors


def render(data, header=HEADER):
    """The text of firmware/pinmap.py for a pin map (a variant's module also names its board)."""
    body = "".join(f'{key.upper()} = "{entry["gpio"]}"\n' for key, entry in data["pins"].items())
    if header is HEADER:
        # The board the variant is for, so board_io and boot.py import its map only there.
        variant = load_pinmap(PINMAP_USBHOST_JSON)["board"]
        body += f'USB_HOST_BOARD = "{variant}"\n'
    return header + "\n" + body


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "pinmap":
        args = args[1:]
    check = False
    json_path, out_path = PINMAP_JSON, PINMAP_PY
    chosen = False
    while args:
        a = args.pop(0)
        if a == "--check":
            check = True
        elif a in ("--json", "--out") and args:
            chosen = True
            if a == "--json":
                json_path = Path(args.pop(0))
            else:
                out_path = Path(args.pop(0))
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            print(f"pinmap: unknown argument {a!r}", file=sys.stderr)
            return 2
    jobs = [(json_path, out_path, HEADER)]
    if not chosen:
        jobs.append((PINMAP_USBHOST_JSON, PINMAP_USBHOST_PY, HEADER_USBHOST))
    for json_path, out_path, header in jobs:
        status = _one(json_path, out_path, header, check)
        if status:
            return status
    return 0


def _one(json_path, out_path, header, check):
    try:
        data = load_pinmap(json_path)
    except (OSError, ValueError) as e:
        print(f"pinmap: cannot read {json_path}: {e}", file=sys.stderr)
        return 2
    errors = validate_pinmap(data)
    if errors:
        for e in errors:
            print(f"pinmap: {json_path}: {e}", file=sys.stderr)
        return 1
    text = render(data, header)
    if check:
        try:
            current = Path(out_path).read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != text:
            print(f"pinmap: {out_path} differs from what {json_path} generates; "
                  f"run: python -m host_tools pinmap", file=sys.stderr)
            return 1
        print(f"pinmap: {out_path} is up to date ({len(data['pins'])} pins)")
        return 0
    Path(out_path).write_text(text, encoding="utf-8")
    print(f"pinmap: wrote {out_path} ({len(data['pins'])} pins)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
