"""The Thruway schematic as code: every part and every net, written out as a KiCad netlist.

    python -m hardware.netlist           write hardware/thruway.net, hardware/bom.csv and the USB host
                                         variant's hardware/thruway-usbhost.net
    python -m hardware.netlist --check   exit 1 if any of them differs from what this script makes

Pure Python, no KiCad needed. ``thruway.net`` is a KiCad (version "E") S-expression netlist: Pcbnew
can read it (File > Import > Netlist) to lay out a board; the footprints named are KiCad library
footprints, except ``Thruway:...`` (a DIN socket and the Pico module, see docs/build.md).

The Pico's GPIO pins are wired from ``hardware/pinmap.json``: GPIO ``GPn`` of pin map key ``k`` is on
the net ``K`` (the key upper-cased, the same name as the firmware constant). The rest of the circuit
connects to those nets by name, so a pin map without a circuit behind it fails here.

Blocks (see docs/build.md for the why of each value):
- Power: Eurorack 10-pin header, a Schottky in series with each rail (reverse protection),
  RECOM R-78E5.0-0.5 switching regulator from +12 V to +5 V, a Schottky into the Pico's VSYS
  (USB VBUS reaches VSYS through the Pico's own diode, so either source powers the box).
  The 5 V logic (74HCT buffers, WS2812 chain) runs from VSYS; 3.3 V is the Pico's 3V3 output.
- MIDI IN x4: DIN pin 4 -> 220 R -> H11L1 LED -> DIN pin 5, 1N4148 across the LED backwards;
  H11L1 (3-15 V supply, so fine at 3.3 V) output with a 1 k pull-up to 3V3 -> Pico RX.
- MIDI OUT x4 (MMA CA-033, 3.3 V signalling): Pico TX -> 74LVC125 buffer -> 10 R -> DIN pin 5;
  DIN pin 4 -> 33 R (0.5 W) -> 3V3; DIN pin 2 -> GND.
- CV: MCP4728 at 0x60 (pitch) and MCP4728A4 at 0x64 (velocity/mod) on I2C0, 2.2 k pull-ups,
  LDAC tied to GND (every write updates the output), internal 2.048 V reference, gain 1.
  Pitch: OPA4197 non-inverting x4 (30 k / 10 k, 0.1 %), the 1 k output resistor inside the loop
  (feedback from the jack side, 330 pF from the op-amp output to -IN for capacitive loads), so the
  jack reads 0-8.19 V whatever the load. Mod: x2.5 (15 k / 10 k), 1 k output resistor.
- Gates, clock, reset, run: 3.3 V GPIO -> 74HCT541 (at VSYS, TTL input levels) -> 1 k -> jack.
  The eighth buffer drives the WS2812 data line at 5 V through 330 R.
- Drums: 74HCT595 on SPI0 (SCK, MOSI) with a latch pin, outputs -> 1 k -> jacks.
- Clock in: jack -> 47 k -> 2N3904 base (100 k to GND, 1N4148 clamp for negative input),
  collector 10 k to 3V3 -> Pico: the pin reads low while the clock is high.
- Buttons to GND (internal pull-ups), 9 WS2812B with a 100 nF each.
"""

import csv
import io
import json
import re
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
PINMAP_JSON = HERE / "pinmap.json"
NETLIST = HERE / "thruway.net"
BOM = HERE / "bom.csv"
# The USB host variant (docs/usb-host.md): its own netlist; its BOM changes are hardware/bom-usbhost.csv.
PINMAP_USBHOST_JSON = HERE / "pinmap-usbhost.json"
NETLIST_USBHOST = HERE / "thruway-usbhost.net"

# ---------------------------------------------------------------------------------------------
# Symbols: KiCad library, part, pins (number, name, type). Pin names are how the code below
# addresses pins (numbers work too).

PICO_PINS = [
    (1, "GP0"), (2, "GP1"), (3, "GND"), (4, "GP2"), (5, "GP3"), (6, "GP4"), (7, "GP5"), (8, "GND"),
    (9, "GP6"), (10, "GP7"), (11, "GP8"), (12, "GP9"), (13, "GND"), (14, "GP10"), (15, "GP11"),
    (16, "GP12"), (17, "GP13"), (18, "GND"), (19, "GP14"), (20, "GP15"), (21, "GP16"),
    (22, "GP17"), (23, "GND"), (24, "GP18"), (25, "GP19"), (26, "GP20"), (27, "GP21"), (28, "GND"),
    (29, "GP22"), (30, "RUN"), (31, "GP26"), (32, "GP27"), (33, "AGND"), (34, "GP28"),
    (35, "ADC_VREF"), (36, "3V3_OUT"), (37, "3V3_EN"), (38, "GND"), (39, "VSYS"), (40, "VBUS"),
]


def _pico_pin_type(name):
    if name.startswith("GP"):
        return "bidirectional"
    if name in ("GND", "AGND", "3V3_OUT", "VSYS", "VBUS"):
        return "power_in" if name != "3V3_OUT" else "power_out"
    return "input"


SYMBOLS = {
    "R": ("Device", "R", "Resistor", [(1, "~", "passive"), (2, "~", "passive")]),
    "C": ("Device", "C", "Unpolarized capacitor", [(1, "~", "passive"), (2, "~", "passive")]),
    "CP": ("Device", "C_Polarized", "Polarized capacitor", [(1, "+", "passive"), (2, "-", "passive")]),
    "D": ("Device", "D", "Diode", [(1, "K", "passive"), (2, "A", "passive")]),
    "D_Schottky": ("Device", "D_Schottky", "Schottky diode", [(1, "K", "passive"), (2, "A", "passive")]),
    "Q_NPN_EBC": ("Device", "Q_NPN_EBC", "NPN transistor, emitter/base/collector",
                  [(1, "E", "passive"), (2, "B", "input"), (3, "C", "passive")]),
    "H11L1": ("Isolator", "H11L1", "Optocoupler, Schmitt trigger open-collector output",
              [(1, "A", "passive"), (2, "K", "passive"), (3, "NC", "no_connect"),
               (4, "VO", "open_collector"), (5, "GND", "power_in"), (6, "VCC", "power_in")]),
    "MCP4728": ("Analog_DAC", "MCP4728", "Quad 12-bit I2C DAC with EEPROM",
                [(1, "VDD", "power_in"), (2, "SCL", "input"), (3, "SDA", "bidirectional"),
                 (4, "~{LDAC}", "input"), (5, "RDY/~{BSY}", "open_collector"), (6, "VOUTA", "output"),
                 (7, "VOUTB", "output"), (8, "VOUTC", "output"), (9, "VOUTD", "output"),
                 (10, "VSS", "power_in")]),
    "OPA4197": ("Amplifier_Operational", "OPA4197xD", "Quad 36 V rail-to-rail in/out op-amp",
                [(1, "OUTA", "output"), (2, "-INA", "input"), (3, "+INA", "input"), (4, "V+", "power_in"),
                 (5, "+INB", "input"), (6, "-INB", "input"), (7, "OUTB", "output"), (8, "OUTC", "output"),
                 (9, "-INC", "input"), (10, "+INC", "input"), (11, "V-", "power_in"),
                 (12, "+IND", "input"), (13, "-IND", "input"), (14, "OUTD", "output")]),
    "74LVC125": ("74xx", "74LVC125", "Quad buffer, 3-state, 3.3 V, 24 mA",
                 [(1, "~{1OE}", "input"), (2, "1A", "input"), (3, "1Y", "tri_state"),
                  (4, "~{2OE}", "input"), (5, "2A", "input"), (6, "2Y", "tri_state"), (7, "GND", "power_in"),
                  (8, "3Y", "tri_state"), (9, "3A", "input"), (10, "~{3OE}", "input"),
                  (11, "4Y", "tri_state"), (12, "4A", "input"), (13, "~{4OE}", "input"),
                  (14, "VCC", "power_in")]),
    "74HCT541": ("74xx", "74HCT541", "Octal buffer, 3-state, TTL inputs",
                 [(1, "~{OE1}", "input")] + [(i + 2, f"A{i + 1}", "input") for i in range(8)]
                 + [(10, "GND", "power_in")] + [(11 + i, f"Y{8 - i}", "tri_state") for i in range(8)]
                 + [(19, "~{OE2}", "input"), (20, "VCC", "power_in")]),
    "74HCT595": ("74xx", "74HCT595", "8-bit shift register with output latches, TTL inputs",
                 [(1, "QB", "tri_state"), (2, "QC", "tri_state"), (3, "QD", "tri_state"),
                  (4, "QE", "tri_state"), (5, "QF", "tri_state"), (6, "QG", "tri_state"),
                  (7, "QH", "tri_state"), (8, "GND", "power_in"), (9, "QH'", "output"),
                  (10, "~{SRCLR}", "input"), (11, "SRCLK", "input"), (12, "RCLK", "input"),
                  (13, "~{OE}", "input"), (14, "SER", "input"), (15, "QA", "tri_state"),
                  (16, "VCC", "power_in")]),
    "WS2812B": ("LED", "WS2812B", "RGB LED with integrated driver",
                [(1, "VDD", "power_in"), (2, "DOUT", "output"), (3, "VSS", "power_in"), (4, "DIN", "input")]),
    "SW_Push": ("Switch", "SW_Push", "Push button", [(1, "1", "passive"), (2, "2", "passive")]),
    "DIN5": ("Connector", "DIN-5_180degree", "5-pin DIN socket (MIDI)",
             [(i, str(i), "passive") for i in range(1, 6)]),
    "Jack": ("Connector_Audio", "AudioJack2_SwitchT", "3.5 mm mono jack with tip switch",
             [("S", "S", "passive"), ("T", "T", "passive"), ("TN", "TN", "passive")]),
    "Conn_02x05": ("Connector_Generic", "Conn_02x05_Odd_Even", "2x5 pin header",
                   [(i, f"Pin_{i}", "passive") for i in range(1, 11)]),
    "R78E": ("Regulator_Switching", "R-78E5.0-0.5", "5 V 0.5 A switching regulator, 7805 pinout",
             [(1, "VIN", "power_in"), (2, "GND", "power_in"), (3, "VOUT", "power_out")]),
    "R78E1": ("Regulator_Switching", "R-78E5.0-1.0", "5 V 1.0 A switching regulator, 7805 pinout",
              [(1, "VIN", "power_in"), (2, "GND", "power_in"), (3, "VOUT", "power_out")]),
    "TPS2051B": ("Power_Management", "TPS2051BD", "USB power switch, 500 mA, current-limited, active-high EN",
                 [(1, "GND", "power_in"), (2, "IN", "power_in"), (3, "IN", "power_in"), (4, "EN", "input"),
                  (5, "~{OC}", "open_collector"), (6, "OUT", "power_out"), (7, "OUT", "power_out"),
                  (8, "OUT", "power_out")]),
    "USBLC6": ("Power_Protection", "USBLC6-2SC6", "ESD protection for 2 USB data lines and VBUS",
               [(1, "I/O1", "passive"), (2, "GND", "passive"), (3, "I/O2", "passive"), (4, "I/O2", "passive"),
                (5, "VBUS", "passive"), (6, "I/O1", "passive")]),
    "USB_A": ("Connector", "USB_A", "USB Type-A receptacle",
              [(1, "VBUS", "power_in"), (2, "D-", "bidirectional"), (3, "D+", "bidirectional"),
               (4, "GND", "power_in"), (5, "Shield", "passive")]),
    "Pico": ("Thruway", "RaspberryPi_Pico", "Raspberry Pi Pico (RP2040 module)",
             [(n, name, _pico_pin_type(name)) for n, name in PICO_PINS]),
}

# ---------------------------------------------------------------------------------------------
# Catalogue: what a BOM line is. id -> (symbol, value, footprint, manufacturer, MPN, description).
# The description is distributor-neutral: any part matching it works.

FP_R0805 = "Resistor_SMD:R_0805_2012Metric"
FP_C0805 = "Capacitor_SMD:C_0805_2012Metric"
CATALOGUE = {
    "R10": ("R", "10", FP_R0805, "Yageo", "RC0805FR-0710RL", "Resistor 10 ohm 1% 0.125 W 0805 thick film"),
    "R33": ("R", "33", "Resistor_SMD:R_1210_3225Metric", "Yageo", "RC1210FR-0733RL",
            "Resistor 33 ohm 1% 0.5 W 1210 thick film"),
    "R220": ("R", "220", FP_R0805, "Yageo", "RC0805FR-07220RL", "Resistor 220 ohm 1% 0.125 W 0805"),
    "R330": ("R", "330", FP_R0805, "Yageo", "RC0805FR-07330RL", "Resistor 330 ohm 1% 0.125 W 0805"),
    "R1k": ("R", "1k", FP_R0805, "Yageo", "RC0805FR-071KL", "Resistor 1 kohm 1% 0.125 W 0805"),
    "R2k2": ("R", "2.2k", FP_R0805, "Yageo", "RC0805FR-072K2L", "Resistor 2.2 kohm 1% 0.125 W 0805"),
    "R10k": ("R", "10k", FP_R0805, "Yageo", "RC0805FR-0710KL", "Resistor 10 kohm 1% 0.125 W 0805"),
    "R15k": ("R", "15k", FP_R0805, "Yageo", "RC0805FR-0715KL", "Resistor 15 kohm 1% 0.125 W 0805"),
    "R47k": ("R", "47k", FP_R0805, "Yageo", "RC0805FR-0747KL", "Resistor 47 kohm 1% 0.125 W 0805"),
    "R100k": ("R", "100k", FP_R0805, "Yageo", "RC0805FR-07100KL", "Resistor 100 kohm 1% 0.125 W 0805"),
    "R10k_p": ("R", "10k 0.1%", FP_R0805, "Yageo", "RT0805BRD0710KL",
               "Resistor 10 kohm 0.1% 25 ppm/K 0805 thin film"),
    "R30k_p": ("R", "30k 0.1%", FP_R0805, "Yageo", "RT0805BRD0730KL",
               "Resistor 30 kohm 0.1% 25 ppm/K 0805 thin film"),
    "C330p": ("C", "330p", FP_C0805, "Murata", "GRM2165C1H331JA01D", "Capacitor 330 pF 50 V C0G/NP0 0805"),
    "C100n": ("C", "100n", FP_C0805, "Samsung", "CL21B104KBCNNNC", "Capacitor 100 nF 50 V X7R 0805"),
    "C10u": ("C", "10u", FP_C0805, "Murata", "GRM21BR61E106KA73L", "Capacitor 10 uF 25 V X5R 0805"),
    "C47u": ("CP", "47u 25V", "Capacitor_THT:CP_Radial_D6.3mm_P2.50mm", "Panasonic", "EEU-FR1E470",
             "Electrolytic capacitor 47 uF 25 V radial 6.3 mm, low ESR"),
    "C100u": ("CP", "100u 10V", "Capacitor_THT:CP_Radial_D6.3mm_P2.50mm", "Panasonic", "EEU-FR1A101",
              "Electrolytic capacitor 100 uF 10 V radial 6.3 mm, low ESR"),
    "D1N5819": ("D_Schottky", "1N5819", "Diode_THT:D_DO-41_SOD81_P10.16mm_Horizontal",
                "Diodes Incorporated", "1N5819-T", "Schottky diode 40 V 1 A DO-41"),
    "D1N4148": ("D", "1N4148", "Diode_THT:D_DO-35_SOD27_P7.62mm_Horizontal", "onsemi", "1N4148TR",
                "Small-signal diode 100 V 200 mA DO-35"),
    "Q2N3904": ("Q_NPN_EBC", "2N3904", "Package_TO_SOT_THT:TO-92_Inline", "onsemi", "2N3904BU",
                "NPN transistor 40 V 200 mA TO-92 (E-B-C)"),
    "H11L1": ("H11L1", "H11L1", "Package_DIP:DIP-6_W7.62mm", "onsemi", "H11L1M",
              "Optocoupler, Schmitt-trigger output, 3-15 V supply, DIP-6"),
    "MCP4728": ("MCP4728", "MCP4728 (0x60)", "Package_SO:MSOP-10_3x3mm_P0.5mm", "Microchip",
                "MCP4728-E/UN", "Quad 12-bit I2C DAC, internal 2.048 V reference, address 0x60, MSOP-10"),
    "MCP4728A4": ("MCP4728", "MCP4728A4 (0x64)", "Package_SO:MSOP-10_3x3mm_P0.5mm", "Microchip",
                  "MCP4728A4-E/UN", "Quad 12-bit I2C DAC, internal 2.048 V reference, address 0x64, MSOP-10"),
    "OPA4197": ("OPA4197", "OPA4197", "Package_SO:SOIC-14_3.9x8.7mm_P1.27mm", "Texas Instruments",
                "OPA4197IDR", "Quad op-amp, 36 V, rail-to-rail input and output, low offset, SOIC-14"),
    "74LVC125": ("74LVC125", "74LVC125", "Package_SO:SOIC-14_3.9x8.7mm_P1.27mm", "Texas Instruments",
                 "SN74LVC125ADR", "Quad buffer 3-state, 1.65-3.6 V, 24 mA, SOIC-14"),
    "74HCT541": ("74HCT541", "74HCT541", "Package_DIP:DIP-20_W7.62mm", "Texas Instruments",
                 "SN74HCT541N", "Octal buffer 3-state, TTL-level inputs, 5 V, DIP-20"),
    "74HCT595": ("74HCT595", "74HCT595", "Package_DIP:DIP-16_W7.62mm", "Texas Instruments",
                 "SN74HCT595N", "8-bit shift register with latches, TTL-level inputs, 5 V, DIP-16"),
    "WS2812B": ("WS2812B", "WS2812B", "LED_SMD:LED_WS2812B_PLCC4_5.0x5.0mm_P3.2mm", "Worldsemi",
                "WS2812B", "Addressable RGB LED 5050, WS2812B protocol"),
    "SW": ("SW_Push", "SW_Push", "Button_Switch_THT:SW_PUSH_6mm", "Omron", "B3F-1000",
           "Tactile switch 6x6 mm, through-hole, normally open"),
    "DIN": ("DIN5", "DIN-5 180deg", "Thruway:DIN5_CUI_SDS-50J", "CUI Devices", "SDS-50J",
            "5-pin DIN socket 180 degree, PCB mount, right angle"),
    "JACK": ("Jack", "PJ398SM", "Connector_Audio:Jack_3.5mm_QingPu_WQP-PJ398SM_Vertical_CircularHoles",
             "Thonk (Qingpu)", "PJ398SM", "3.5 mm mono jack, vertical PCB mount, Eurorack (Thonkiconn)"),
    "EURO": ("Conn_02x05", "Eurorack power", "Connector_IDC:IDC-Header_2x05_P2.54mm_Vertical",
             "Wurth Elektronik", "61201021621", "Box header 2x5 2.54 mm, shrouded, vertical"),
    "R78E": ("R78E", "R-78E5.0-0.5", "Converter_DCDC:Converter_DCDC_RECOM_R-78E-0.5_THT", "RECOM",
             "R-78E5.0-0.5", "Switching regulator module 5 V 0.5 A, 7-28 V in, 7805 pinout, SIP-3"),
    "PICO": ("Pico", "Raspberry Pi Pico", "Module:RaspberryPi_Pico_Common_THT", "Raspberry Pi",
             "SC0915", "Raspberry Pi Pico (RP2040 module, 2 MB flash, micro-USB)"),
    # USB host variant only (hardware/pinmap-usbhost.json, docs/usb-host.md).
    "PICO2": ("Pico", "Raspberry Pi Pico 2", "Module:RaspberryPi_Pico_Common_THT", "Raspberry Pi",
              "SC1631", "Raspberry Pi Pico 2 (RP2350 module, 4 MB flash, micro-USB; Pico footprint)"),
    "R78E1": ("R78E1", "R-78E5.0-1.0", "Converter_DCDC:Converter_DCDC_RECOM_R-78E-0.5_THT", "RECOM",
              "R-78E5.0-1.0", "Switching regulator module 5 V 1.0 A, 7805 pinout, SIP-3"),
    "TPS2051B": ("TPS2051B", "TPS2051B", "Package_SO:SOIC-8_3.9x4.9mm_P1.27mm", "Texas Instruments",
                 "TPS2051BDR", "USB power switch, 500 mA continuous, 0.75-1.25 A limit, active-high EN, SOIC-8"),
    "USBLC6": ("USBLC6", "USBLC6-2SC6", "Package_TO_SOT_SMD:SOT-23-6", "STMicroelectronics", "USBLC6-2SC6",
               "ESD protection for USB 2.0 D+/D- and VBUS, SOT-23-6"),
    "USBA": ("USB_A", "USB-A", "Connector_USB:USB_A_Molex_48204-0001_Horizontal", "Molex", "0482040001",
             "USB 2.0 Type-A receptacle, right angle, through-hole"),
    "R22": ("R", "22", FP_R0805, "Yageo", "RC0805FR-0722RL", "Resistor 22 ohm 1% 0.125 W 0805"),
    "R4k7": ("R", "4.7k", FP_R0805, "Yageo", "RC0805FR-074K7L", "Resistor 4.7 kohm 1% 0.125 W 0805"),
    "R20k": ("R", "20k", FP_R0805, "Yageo", "RC0805FR-0720KL", "Resistor 20 kohm 1% 0.125 W 0805"),
    "R39k": ("R", "39k", FP_R0805, "Yageo", "RC0805FR-0739KL", "Resistor 39 kohm 1% 0.125 W 0805"),
    "R82k": ("R", "82k", FP_R0805, "Yageo", "RC0805FR-0782KL", "Resistor 82 kohm 1% 0.125 W 0805"),
    "C150u": ("CP", "150u 10V", "Capacitor_THT:CP_Radial_D6.3mm_P2.50mm", "Panasonic", "EEU-FR1A151",
              "Electrolytic capacitor 150 uF 10 V radial 6.3 mm, low ESR"),
}

# Parts not in the netlist (no electrical node), listed in the BOM with an empty refs column.
MECHANICAL = [
    (2, "Male pin header 1x20 2.54 mm (for the Pico)", "generic", "generic"),
    (2, "Female socket strip 1x20 2.54 mm (Pico socket)", "Samtec", "SSW-120-01-T-S"),
    (4, "IC socket DIP-6 (H11L1)", "generic", "generic"),
    (1, "IC socket DIP-16 (74HCT595)", "generic", "generic"),
    (1, "IC socket DIP-20 (74HCT541)", "generic", "generic"),
    (1, "Eurorack power cable 10-pin to 16-pin IDC, 25 cm", "generic", "generic"),
    (1, "Micro-USB panel-mount extension cable (optional: brings the Pico's USB to the panel)",
     "generic", "generic"),
    (24, "Knurled nut for PJ398SM jack (usually supplied with the jack)", "Thonk", "PJ398SM nut"),
]


# ---------------------------------------------------------------------------------------------
class Board:
    def __init__(self):
        self.parts = {}  # ref -> catalogue id
        self.order = []
        self.nets = {}  # net name -> list of (ref, pin number as str)
        self._count = {}

    def add(self, prefix, cat, **pins):
        """Place a part; pins given as name=net (names that are not identifiers via ``pin()``)."""
        n = self._count.get(prefix, 0) + 1
        self._count[prefix] = n
        ref = f"{prefix}{n}"
        self.parts[ref] = cat
        self.order.append(ref)
        for pin, net in pins.items():
            self.pin(ref, pin, net)
        return ref

    def two(self, prefix, cat, a, b):
        """A two-terminal part (R, C) between nets a and b; for CP/D the order is +/- and K/A."""
        ref = self.add(prefix, cat)
        self.pin(ref, 1, a)
        self.pin(ref, 2, b)
        return ref

    def pin(self, ref, pin, net):
        sym = SYMBOLS[CATALOGUE[self.parts[ref]][0]]
        num = None
        for number, name, _ in sym[3]:
            if str(number) == str(pin) or name == pin:
                if num is not None and name == pin:
                    raise ValueError(f"{ref}: pin name {pin!r} is ambiguous, use its number")
                num = str(number)
        if num is None:
            raise ValueError(f"{ref}: no pin {pin!r}")
        for other, nodes in self.nets.items():
            if (ref, num) in nodes:
                raise ValueError(f"{ref} pin {num} is on {other} already, cannot join {net}")
        self.nets.setdefault(net, []).append((ref, num))


def build(pinmap=None):
    """The whole box. Returns a Board."""
    if pinmap is None:
        with open(PINMAP_JSON, encoding="utf-8") as f:
            pinmap = json.load(f)
    b = Board()
    GND, P3V3, VSYS = "GND", "+3V3", "VSYS"
    usb_host = "usb_host_dp" in pinmap["pins"]  # the USB host variant (docs/usb-host.md)

    # --- Pico: every pin map entry on its net, power pins.
    pico = b.add("U", "PICO2" if pinmap.get("board") == "raspberry_pi_pico2" else "PICO")
    gp_to_pin = {name: num for num, name in PICO_PINS if name.startswith("GP")}
    for key, entry in pinmap["pins"].items():
        b.pin(pico, gp_to_pin[entry["gpio"]], key.upper())
    for num, name in PICO_PINS:
        if name in ("GND", "AGND"):
            b.pin(pico, num, GND)
    b.pin(pico, "3V3_OUT", P3V3)
    b.pin(pico, "VSYS", VSYS)
    b.pin(pico, "VBUS", "VBUS")  # USB: the Pico's own micro-USB socket (see docs/build.md)

    # --- Power: Eurorack header, reverse protection, 5 V regulator, VSYS.
    euro = b.add("J", "EURO")
    for p in (1, 2):
        b.pin(euro, p, "-12V_IN")
    for p in range(3, 9):
        b.pin(euro, p, GND)
    for p in (9, 10):
        b.pin(euro, p, "+12V_IN")
    b.add("D", "D1N5819", A="+12V_IN", K="+12V")
    b.add("D", "D1N5819", K="-12V_IN", A="-12V")
    b.two("C", "C47u", "+12V", GND)
    b.two("C", "C47u", GND, "-12V")
    b.add("U", "R78E1" if usb_host else "R78E", VIN="+12V", GND=GND, VOUT="+5V")
    b.two("C", "C10u", "+12V", GND)
    b.two("C", "C10u", "+5V", GND)
    b.add("D", "D1N5819", A="+5V", K=VSYS)
    b.two("C", "C100u", VSYS, GND)

    # --- MIDI IN x4: H11L1 at 3.3 V.
    for n in range(1, 5):
        jack = b.add("J", "DIN")
        a, k = f"MIDI_IN{n}_LED_A", f"MIDI_IN{n}_LED_K"
        b.pin(jack, 4, f"MIDI_IN{n}_PIN4")
        b.pin(jack, 5, k)  # pin 2 (shield) of a MIDI IN is left unconnected (MIDI 1.0)
        b.two("R", "R220", f"MIDI_IN{n}_PIN4", a)
        b.add("D", "D1N4148", K=a, A=k)
        b.add("U", "H11L1", A=a, K=k, VO=f"MIDI_IN{n}", GND=GND, VCC=P3V3)
        b.two("R", "R1k", f"MIDI_IN{n}", P3V3)
        b.two("C", "C100n", P3V3, GND)

    # --- MIDI OUT x4: 74LVC125 buffer, CA-033 3.3 V resistors.
    buf = b.add("U", "74LVC125", GND=GND, VCC=P3V3)
    for ch in "1234":
        b.pin(buf, f"~{{{ch}OE}}", GND)
    b.two("C", "C100n", P3V3, GND)
    for n, ch in zip(range(1, 5), "1234", strict=True):
        b.pin(buf, f"{ch}A", f"MIDI_OUT{n}")
        b.pin(buf, f"{ch}Y", f"MIDI_OUT{n}_BUF")
        jack = b.add("J", "DIN")
        b.pin(jack, 2, GND)
        b.pin(jack, 4, f"MIDI_OUT{n}_PIN4")
        b.pin(jack, 5, f"MIDI_OUT{n}_PIN5")
        b.two("R", "R33", P3V3, f"MIDI_OUT{n}_PIN4")  # RA: 33 ohm to +3.3 V
        b.two("R", "R10", f"MIDI_OUT{n}_BUF", f"MIDI_OUT{n}_PIN5")  # RC: 10 ohm to the driver

    # --- DACs on I2C0, LDAC to GND.
    b.two("R", "R2k2", "DAC_SDA", P3V3)
    b.two("R", "R2k2", "DAC_SCL", P3V3)
    dacs = {}
    for role, cat in (("PITCH", "MCP4728"), ("MOD", "MCP4728A4")):
        u = b.add("U", cat, VDD=P3V3, VSS=GND, SCL="DAC_SCL", SDA="DAC_SDA")
        b.pin(u, "~{LDAC}", GND)
        for n, ch in zip(range(1, 5), "ABCD", strict=True):
            b.pin(u, f"VOUT{ch}", f"DAC_{role}{n}")
        b.two("C", "C100n", P3V3, GND)
        b.two("C", "C10u", P3V3, GND)
        dacs[role] = u

    # --- Op-amp stages on +/-12 V.
    sections = "ABCD"
    opa_pitch = b.add("U", "OPA4197")
    opa_mod = b.add("U", "OPA4197")
    for u in (opa_pitch, opa_mod):
        b.pin(u, "V+", "+12V")
        b.pin(u, "V-", "-12V")
        b.two("C", "C100n", "+12V", GND)
        b.two("C", "C100n", GND, "-12V")
    for n, s in zip(range(1, 5), sections, strict=True):
        # Pitch: x4, output resistor inside the loop.
        inp, fb, amp, jack_net = f"PITCH{n}_IN", f"PITCH{n}_FB", f"PITCH{n}_AMP", f"JACK_CV{n}"
        b.two("R", "R1k", f"DAC_PITCH{n}", inp)
        b.pin(opa_pitch, f"+IN{s}", inp)
        b.pin(opa_pitch, f"-IN{s}", fb)
        b.pin(opa_pitch, f"OUT{s}", amp)
        b.two("R", "R10k_p", fb, GND)  # Rg
        b.two("R", "R30k_p", jack_net, fb)  # Rf, from the jack side
        b.two("C", "C330p", amp, fb)  # Cf, high-frequency feedback straight from the output
        b.two("R", "R1k", amp, jack_net)  # Riso, inside the loop
        b.add("J", "JACK", T=jack_net, S=GND)
        # Mod: x2.5, output resistor outside the loop.
        inp, fb, amp, jack_net = f"MOD{n}_IN", f"MOD{n}_FB", f"MOD{n}_AMP", f"JACK_MOD{n}"
        b.two("R", "R1k", f"DAC_MOD{n}", inp)
        b.pin(opa_mod, f"+IN{s}", inp)
        b.pin(opa_mod, f"-IN{s}", fb)
        b.pin(opa_mod, f"OUT{s}", amp)
        b.two("R", "R10k", fb, GND)  # Rg
        b.two("R", "R15k", amp, fb)  # Rf
        b.two("R", "R1k", amp, jack_net)
        b.add("J", "JACK", T=jack_net, S=GND)

    # --- Gates, clock, reset, run and the LED data line through a 74HCT541 at VSYS.
    hct = b.add("U", "74HCT541", GND=GND, VCC=VSYS)
    b.pin(hct, "~{OE1}", GND)
    b.pin(hct, "~{OE2}", GND)
    b.two("C", "C100n", VSYS, GND)
    buffered = [("GATE1", "JACK_GATE1"), ("GATE2", "JACK_GATE2"), ("GATE3", "JACK_GATE3"),
                ("GATE4", "JACK_GATE4"), ("CLOCK_OUT", "JACK_CLOCK"), ("RESET_OUT", "JACK_RESET"),
                ("RUN_OUT", "JACK_RUN")]
    for i, (src, jack_net) in enumerate(buffered, start=1):
        b.pin(hct, f"A{i}", src)
        b.pin(hct, f"Y{i}", f"{src}_5V")
        b.two("R", "R1k", f"{src}_5V", jack_net)
        b.add("J", "JACK", T=jack_net, S=GND)
    b.pin(hct, "A8", "LEDS")
    b.pin(hct, "Y8", "LEDS_5V")
    b.two("R", "R330", "LEDS_5V", "LED_DIN1")

    # --- Drum gates: 74HCT595 on SPI0.
    sr = b.add("U", "74HCT595", GND=GND, VCC=VSYS, SER="DRUM_MOSI", SRCLK="DRUM_SCK", RCLK="DRUM_LATCH")
    b.pin(sr, "~{SRCLR}", VSYS)
    b.pin(sr, "~{OE}", GND)
    b.two("C", "C100n", VSYS, GND)
    for n, q in zip(range(1, 9), "ABCDEFGH", strict=True):
        b.pin(sr, f"Q{q}", f"DRUM{n}_5V")
        b.two("R", "R1k", f"DRUM{n}_5V", f"JACK_DRUM{n}")
        b.add("J", "JACK", T=f"JACK_DRUM{n}", S=GND)

    # --- Clock input: NPN inverter, protected.
    b.add("J", "JACK", T="JACK_CLOCK_IN", S=GND)
    b.two("R", "R47k", "JACK_CLOCK_IN", "CLOCK_IN_BASE")
    b.two("R", "R100k", "CLOCK_IN_BASE", GND)
    b.add("D", "D1N4148", K="CLOCK_IN_BASE", A=GND)
    b.add("Q", "Q2N3904", E=GND, B="CLOCK_IN_BASE", C="CLOCK_IN")
    b.two("R", "R10k", "CLOCK_IN", P3V3)

    # --- Buttons: to GND each (internal pull-ups), or in the USB host variant a ladder on one
    # ADC pin: button n from 3V3 through its own resistor to BUTTONS, a pull-down and a filter cap.
    if "buttons" in pinmap["pins"]:
        for n, cat in zip(range(1, 5), ("R10k", "R20k", "R39k", "R82k"), strict=True):
            b.add("SW", "SW", **{"1": P3V3, "2": f"BUTTON{n}_LADDER"})
            b.two("R", cat, f"BUTTON{n}_LADDER", "BUTTONS")
        b.two("R", "R4k7", "BUTTONS", GND)
        b.two("C", "C100n", "BUTTONS", GND)
    else:
        for n in range(1, 5):
            b.add("SW", "SW", **{"1": f"BUTTON{n}", "2": GND})

    # --- WS2812B chain at VSYS.
    count = 9
    for n in range(1, count + 1):
        led = b.add("LED", "WS2812B", VDD=VSYS, VSS=GND, DIN=f"LED_DIN{n}")
        if n < count:
            b.pin(led, "DOUT", f"LED_DIN{n + 1}")  # the last DOUT is left open
        b.two("C", "C100n", VSYS, GND)

    # --- USB host port: power switch from +5V (before the VSYS Schottky: no host power from the
    # Pico's own USB), 22 R series resistors, ESD array at the socket.
    if usb_host:
        sw = b.add("U", "TPS2051B", GND=GND, EN="USB_HOST_EN", **{"~{OC}": "USB_HOST_OC"})
        for p in (2, 3):
            b.pin(sw, p, "+5V")
        for p in (6, 7, 8):
            b.pin(sw, p, "VBUS_HOST")
        b.two("R", "R100k", "USB_HOST_EN", GND)  # off until the firmware drives EN
        b.two("R", "R10k", "USB_HOST_OC", P3V3)
        b.two("C", "C10u", "+5V", GND)
        b.two("C", "C100n", "+5V", GND)
        b.two("C", "C150u", "VBUS_HOST", GND)
        b.two("C", "C100n", "VBUS_HOST", GND)
        b.two("R", "R22", "USB_HOST_DP", "USB_DP")
        b.two("R", "R22", "USB_HOST_DM", "USB_DM")
        esd = b.add("U", "USBLC6", GND=GND, VBUS="VBUS_HOST")
        for p, net in ((1, "USB_DP"), (6, "USB_DP"), (3, "USB_DM"), (4, "USB_DM")):
            b.pin(esd, p, net)
        b.add("J", "USBA", VBUS="VBUS_HOST", GND=GND, Shield=GND, **{"D+": "USB_DP", "D-": "USB_DM"})

    # Every pin map net must reach the circuit.
    for key in pinmap["pins"]:
        if len(b.nets.get(key.upper(), ())) < 2:
            raise ValueError(f"pin map key {key} ({key.upper()}) is wired to nothing in the netlist")
    return b


# ---------------------------------------------------------------------------------------------
# KiCad netlist writer and reader.

def _q(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _natural(ref):
    m = re.match(r"([A-Za-z_]+)(\d+)$", ref)
    return (m.group(1), int(m.group(2))) if m else (ref, 0)


def _tstamp(ref):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"thruway/{ref}"))


def render_netlist(b):
    out = ['(export (version "E")',
           '  (design',
           '    (source "hardware/netlist.py")',
           '    (tool "Thruway hardware/netlist.py (pure Python)")',
           '    (sheet (number "1") (name "/") (tstamps "/")',
           '      (title_block',
           '        (title "Thruway: MIDI merger / thru / MIDI-to-CV (Raspberry Pi Pico)")',
           '        (comment (number "1") (value "Generated by python -m hardware.netlist; do not edit"))',
           '        (comment (number "2") (value "Pico GPIO nets are named after hardware/pinmap.json keys")))))',
           '  (components']
    for ref in sorted(b.order, key=_natural):
        cat = b.parts[ref]
        symbol, value, footprint, maker, mpn, desc = CATALOGUE[cat]
        lib, part, sdesc, _ = SYMBOLS[symbol]
        out += [f'    (comp (ref {_q(ref)})',
                f'      (value {_q(value)})',
                f'      (footprint {_q(footprint)})',
                '      (fields',
                f'        (field (name "Manufacturer") {_q(maker)})',
                f'        (field (name "MPN") {_q(mpn)})',
                f'        (field (name "Description") {_q(desc)}))',
                f'      (libsource (lib {_q(lib)}) (part {_q(part)}) (description {_q(sdesc)}))',
                '      (sheetpath (names "/") (tstamps "/"))',
                f'      (tstamps {_q(_tstamp(ref))}))']
    out[-1] += ")"
    out.append("  (libparts")
    used = sorted({CATALOGUE[c][0] for c in b.parts.values()}, key=lambda s: SYMBOLS[s][:2])
    for symbol in used:
        lib, part, sdesc, pins = SYMBOLS[symbol]
        out += [f'    (libpart (lib {_q(lib)}) (part {_q(part)})',
                f'      (description {_q(sdesc)})',
                '      (pins']
        for j, (num, name, typ) in enumerate(pins):
            end = "))" if j == len(pins) - 1 else ""
            out.append(f'        (pin (num {_q(num)}) (name {_q(name)}) (type {_q(typ)})){end}')
    out[-1] += ")"
    out.append("  (nets")
    names = sorted(b.nets, key=lambda n: (n != "GND", n))
    for code, name in enumerate(names, start=1):
        out.append(f'    (net (code {_q(code)}) (name {_q(name)})')
        nodes = sorted(b.nets[name], key=lambda rp: (_natural(rp[0]), rp[1]))
        for k, (ref, num) in enumerate(nodes):
            symbol = CATALOGUE[b.parts[ref]][0]
            pname, ptype = next((nm, t) for n, nm, t in SYMBOLS[symbol][3] if str(n) == num)
            end = ")" if k == len(nodes) - 1 else ""
            out.append(f'      (node (ref {_q(ref)}) (pin {_q(num)}) (pinfunction {_q(pname)}) '
                       f'(pintype {_q(ptype)})){end}')
    out[-1] += "))"
    return "\n".join(out) + "\n"


def parse_sexpr(text):
    """A KiCad S-expression -> nested lists of strings."""
    tokens = re.findall(r'\(|\)|"(?:[^"\\]|\\.)*"|[^\s()"]+', text)
    stack, cur = [], []
    for t in tokens:
        if t == "(":
            stack.append(cur)
            cur = []
        elif t == ")":
            done = cur
            cur = stack.pop()
            cur.append(done)
        elif t.startswith('"'):
            cur.append(re.sub(r'\\(.)', r'\1', t[1:-1]))
        else:
            cur.append(t)
    if stack or len(cur) != 1:
        raise ValueError("unbalanced S-expression")
    return cur[0]


def _find(node, key):
    return [c for c in node if isinstance(c, list) and c and c[0] == key]


def _get(node, key, default=None):
    found = _find(node, key)
    return found[0][1] if found and len(found[0]) > 1 else default


def read_netlist(path=NETLIST):
    """Parse a KiCad netlist: {"components": {ref: {...}}, "nets": {name: [(ref, pin, pinfunction)]}}."""
    tree = parse_sexpr(Path(path).read_text(encoding="utf-8"))
    if tree[0] != "export":
        raise ValueError(f"{path}: not a KiCad netlist")
    comps = {}
    for comp in _find(_find(tree, "components")[0], "comp"):
        ref = _get(comp, "ref")
        fields = {}
        for fs in _find(comp, "fields"):
            for f in _find(fs, "field"):
                fields[_get(f, "name")] = f[2] if len(f) > 2 else ""
        lib = _find(comp, "libsource")[0]
        comps[ref] = {"value": _get(comp, "value"), "footprint": _get(comp, "footprint"),
                      "fields": fields, "lib": _get(lib, "lib"), "part": _get(lib, "part")}
    nets = {}
    for net in _find(_find(tree, "nets")[0], "net"):
        nets[_get(net, "name")] = [(_get(n, "ref"), _get(n, "pin"), _get(n, "pinfunction"))
                                   for n in _find(net, "node")]
    return {"components": comps, "nets": nets}


# ---------------------------------------------------------------------------------------------
BOM_FIELDS = ["refs", "qty", "value", "description", "manufacturer", "mpn", "footprint"]


def render_bom(b):
    groups = {}
    for ref in b.order:
        groups.setdefault(b.parts[ref], []).append(ref)
    order = list(CATALOGUE)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(BOM_FIELDS)
    for cat in sorted(groups, key=lambda c: (_natural(groups[c][0])[0], order.index(c))):
        refs = sorted(groups[cat], key=_natural)
        _, value, footprint, maker, mpn, desc = CATALOGUE[cat]
        w.writerow([" ".join(refs), len(refs), value, desc, maker, mpn, footprint])
    for qty, desc, maker, mpn in MECHANICAL:
        w.writerow(["", qty, "", desc, maker, mpn, ""])
    return buf.getvalue()


def read_bom(path=BOM):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    b = build()
    with open(PINMAP_USBHOST_JSON, encoding="utf-8") as f:
        variant = build(json.load(f))
    outputs = {NETLIST: render_netlist(b), BOM: render_bom(b), NETLIST_USBHOST: render_netlist(variant)}
    status = 0
    for path, text in outputs.items():
        if check:
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current != text:
                print(f"netlist: {path} is out of date; run: python -m hardware.netlist", file=sys.stderr)
                status = 1
        else:
            path.write_text(text, encoding="utf-8")
            print(f"netlist: wrote {path}")
    if check and status == 0:
        print(f"netlist: {NETLIST.name} and {BOM.name} are up to date "
              f"({len(b.parts)} parts, {len(b.nets)} nets)")
    return status


if __name__ == "__main__":
    sys.exit(main())
