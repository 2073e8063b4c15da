"""The USB host port's hardware design (docs/usb-host.md): the variant pin map, the PIO budget,
the button ladder, the power path and the variant BOM.

Pure Python: needs only pytest. Run: pytest -q tests/test_usb_host_hardware.py
"""

import copy
import csv
import itertools
import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hardware import netlist  # noqa: E402
from host_tools import pinmap  # noqa: E402

HW = ROOT / "hardware"
VARIANT = HW / "pinmap-usbhost.json"
DESIGN = HW / "usbhost.json"
BOM = HW / "bom-usbhost.csv"


@pytest.fixture(scope="module")
def variant():
    return pinmap.load_pinmap(VARIANT)


@pytest.fixture(scope="module")
def design():
    return json.loads(DESIGN.read_text(encoding="utf-8"))


def _gpio(entry):
    return pinmap.gpio_number(entry["gpio"])


# ---------------------------------------------------------------------------------------------
# Pin map


def test_variant_pinmap_validates_on_the_pico2(variant):
    assert variant["board"] == "raspberry_pi_pico2"
    assert pinmap.validate_pinmap(variant) == []


def test_the_same_pins_on_a_pico_run_out_of_state_machines(variant):
    # Pins and functions are the same on both boards (the RP2350A's GPIO 0-29 keep the RP2040's
    # UART/I2C/SPI selects); only the PIO budget differs.
    on_pico = dict(variant, board="raspberry_pi_pico")
    errors = pinmap.validate_pinmap(on_pico)
    assert len(errors) == 1 and errors[0].startswith("PIO: 5 users") and "RP2040 has (8" in errors[0]


def test_usb_dp_dm_adjacent_and_no_pin_used_twice(variant):
    pins = variant["pins"]
    by_function = {e["function"]: _gpio(e) for e in pins.values()}
    assert by_function["usb_host_dm"] == by_function["usb_host_dp"] + 1
    gpios = [_gpio(e) for e in pins.values()]
    assert len(gpios) == len(set(gpios)) == len(pinmap.PICO_EXPOSED)  # every exposed GPIO, once


def test_variant_keeps_every_other_feature(variant):
    default = pinmap.load_pinmap()["pins"]
    pins = variant["pins"]
    buttons = {k for k in default if k.startswith("button")}
    new = {"buttons", "usb_host_dp", "usb_host_dm", "usb_host_en"}
    assert set(pins) == (set(default) - buttons) | new
    for key in set(default) - buttons:
        assert pins[key]["function"] == default[key]["function"], key
    moved = {k for k in set(default) - buttons if pins[k]["gpio"] != default[k]["gpio"]}
    assert moved == {"run_out"}
    assert pins["buttons"]["function"] == "adc"


@pytest.mark.parametrize("change, expected", [
    ({"usb_host_dm": {"gpio": "GP15", "function": "usb_host_dm"},
      "usb_host_en": {"gpio": "GP17", "function": "gpio_out"}}, "must be the GPIO after D+"),
    ({"usb_host_dm": None}, "needs both usb_host_dp (D+) and usb_host_dm (D-)"),
    ({"buttons": {"gpio": "GP22", "function": "adc"}, "gate1": None}, "adc is not available on GP22"),
    ({"usb_host_en": {"gpio": "GP16", "function": "gpio_out"}}, "GP16 is already used by usb_host_en"),
])
def test_the_checker_catches_a_wrong_host_port(variant, change, expected):
    data = copy.deepcopy(variant)
    for key, entry in change.items():
        if entry is None:
            del data["pins"][key]
        else:
            data["pins"][key] = entry
    errors = pinmap.validate_pinmap(data)
    assert any(expected in e for e in errors), errors


# ---------------------------------------------------------------------------------------------
# PIO budget


def _words_in_board_io(name):
    text = (ROOT / "firmware" / "board_io.py").read_text(encoding="utf-8")
    m = re.search(rf'^{name} = array\.array\("H", \(([^)]*)\)\)', text, re.M)
    assert m, name
    return len(re.findall(r"0x[0-9A-Fa-f]{4}", m.group(1)))


def test_program_sizes_match_the_firmware(design):
    for program, spec in design["pio"]["programs"].items():
        source = spec["source"]
        if source.startswith("firmware/board_io.py"):
            assert _words_in_board_io(source.split()[-1]) == spec["words"], program


def packing(design, board, users, usb_host=True):
    """An assignment of users to PIO blocks that fits (state machines and instruction words per
    block, a program loaded once per block and shared), or None. The USB host takes one block."""
    pio = design["pio"]
    blocks = pio["boards"][board] - (1 if usb_host else 0)
    sm_max, words_max = pio["state_machines_per_block"], pio["instruction_words_per_block"]
    for assign in itertools.product(range(blocks), repeat=len(users)):
        ok = True
        for blk in range(blocks):
            mine = [u for u, a in zip(users, assign) if a == blk]
            words = sum(pio["programs"][p]["words"] for p in {u["program"] for u in mine})
            if len(mine) > sm_max or words > words_max:
                ok = False
                break
        if ok:
            return assign
    return None


def test_usb_host_takes_a_whole_block(design):
    usb = design["pio"]["usb_host"]
    assert usb["state_machines"] == design["pio"]["state_machines_per_block"]
    assert usb["words"] == design["pio"]["instruction_words_per_block"]


def test_pico2_keeps_every_pio_user_beside_the_host_port(design):
    users = design["pio"]["users"]
    assert packing(design, "raspberry_pi_pico2", users) is not None
    assert packing(design, "raspberry_pi_pico", users, usb_host=False) is not None  # today's box


def test_pico_with_the_host_port_loses_the_clock_timers_and_the_leds(design):
    users = design["pio"]["users"]
    by_name = {u["name"]: u for u in users}
    din = [by_name[k] for k in ("midi_out3", "midi_in3", "midi_out4", "midi_in4")]
    assert packing(design, "raspberry_pi_pico", users) is None
    # Without the metronome and the one-shot (both fall back to the ms tick) it still does not fit
    # with the LEDs: four PIO UART directions fill the one block left.
    assert packing(design, "raspberry_pi_pico", din + [by_name["leds"]]) is None
    assert packing(design, "raspberry_pi_pico", din) is not None
    # Keeping the LEDs instead costs a DIN direction.
    assert packing(design, "raspberry_pi_pico", din[:3] + [by_name["leds"]]) is not None
    for name in ("metronome", "one_shot", "leds"):
        assert by_name[name]["fallback"]


# ---------------------------------------------------------------------------------------------
# Button ladder


def ladder_volts(ladder, pressed, scale_r=1.0, scale_pull=1.0):
    g = sum(1 / (ladder["resistors"][k] * scale_r) for k in pressed)
    return ladder["vref"] * g / (g + 1 / (ladder["pull_down"] * scale_pull)) if g else 0.0


def ladder_overlaps(ladder):
    """Pairs of button combinations whose voltage bands (resistor tolerance, ADC error) touch."""
    tol, err = ladder["tolerance"], ladder["adc_error_v"]
    bands = []
    for code in range(16):
        pressed = [k for k in range(4) if code >> k & 1]
        lo = ladder_volts(ladder, pressed, 1 + tol, 1 - tol)
        hi = ladder_volts(ladder, pressed, 1 - tol, 1 + tol)
        bands.append((lo - err, hi + err, code))
    bands.sort()
    return [(a, b) for (_, hi_a, a), (lo_b, _, b) in zip(bands, bands[1:]) if hi_a >= lo_b]


def test_every_button_combination_reads_apart(design):
    lad = design["ladder"]
    assert ladder_overlaps(lad) == []
    # The combinations the panel uses (each button alone, buttons 3 + 4 for start/stop and tap
    # tempo) are far apart even at worst: more than 0.1 V between neighbouring bands.
    tol = lad["tolerance"]
    panel = sorted((ladder_volts(lad, p, 1 + tol, 1 - tol), ladder_volts(lad, p, 1 - tol, 1 + tol))
                   for p in ([], [0], [1], [2], [3], [2, 3]))
    assert min(b[0] - a[1] for a, b in zip(panel, panel[1:])) > 0.1


def test_the_ladder_check_catches_bad_values(design):
    assert ladder_overlaps(dict(design["ladder"], resistors=[10000] * 4))  # one press like another
    assert ladder_overlaps(dict(design["ladder"], tolerance=0.05))  # 5 % parts blur 1+2+3 / 1+2+3+4


# ---------------------------------------------------------------------------------------------
# Power


def test_power_budget(design):
    p = design["power"]
    box = sum(p["box_5v_ma"].values())
    assert box + p["usb_port_ma"] <= p["regulator_ma"]
    assert p["load_switch_limit_ma"][0] >= p["usb_port_ma"]  # a 500 mA device is never cut
    assert p["vbus_capacitance_uf"] >= p["usb_min_vbus_capacitance_uf"]
    # The default regulator could not feed the port: the variant BOM replaces it.
    assert box + p["usb_port_ma"] > 500


# ---------------------------------------------------------------------------------------------
# Variant netlist (hardware/thruway-usbhost.net, made by hardware/netlist.py)


@pytest.fixture(scope="module")
def vnet():
    return netlist.read_netlist(netlist.NETLIST_USBHOST)


def _nodes(net, name):
    """(part, pinfunction) of every node on a net."""
    return {(net["components"][r]["part"], f) for r, _, f in net["nets"][name]}


def _resistors(net, a, b):
    ends = {}
    for name, nodes in net["nets"].items():
        for r, _, _ in nodes:
            if net["components"][r]["part"] == "R":
                ends.setdefault(r, set()).add(name)
    return sorted(net["components"][r]["value"] for r, e in ends.items() if e == {a, b})


def test_variant_netlist_is_generated_and_connected(vnet):
    assert netlist.main(["--check"]) == 0  # default and variant files both up to date
    for name, nodes in vnet["nets"].items():
        if name != "VBUS":  # the Pico's own USB socket
            assert len(nodes) >= 2, name


def test_variant_netlist_wires_the_pico_from_the_variant_pinmap(vnet, variant):
    (pico,) = [r for r, c in vnet["components"].items() if c["part"] == "RaspberryPi_Pico"]
    assert vnet["components"][pico]["fields"]["MPN"] == "SC1631"
    by_gpio = {f: name for name, nodes in vnet["nets"].items() for r, _, f in nodes
               if r == pico and f.startswith("GP")}
    assert by_gpio == {e["gpio"]: k.upper() for k, e in variant["pins"].items()}


def test_host_port_circuit(vnet):
    for pico_net, line, esd_pin in (("USB_HOST_DP", "USB_DP", "I/O1"), ("USB_HOST_DM", "USB_DM", "I/O2")):
        assert _resistors(vnet, pico_net, line) == ["22"]
        assert {("USB_A", line[-2:].replace("DP", "D+").replace("DM", "D-")),
                ("USBLC6-2SC6", esd_pin)} <= _nodes(vnet, line)
    assert _nodes(vnet, "VBUS_HOST") >= {("TPS2051BD", "OUT"), ("USB_A", "VBUS"), ("USBLC6-2SC6", "VBUS"),
                                         ("C_Polarized", "+")}
    assert ("TPS2051BD", "IN") in _nodes(vnet, "+5V")
    assert not any(pt == "TPS2051BD" for pt, _ in _nodes(vnet, "VSYS"))  # fed before the Schottky
    assert ("R-78E5.0-1.0", "VOUT") in _nodes(vnet, "+5V")
    assert ("TPS2051BD", "EN") in _nodes(vnet, "USB_HOST_EN")
    assert _resistors(vnet, "USB_HOST_EN", "GND") == ["100k"]  # off while the Pico boots
    assert _resistors(vnet, "USB_HOST_OC", "+3V3") == ["10k"]


def test_ladder_in_the_netlist_matches_the_design(vnet, design):
    def ohms(value):
        return round(float(value.rstrip("k")) * (1000 if value.endswith("k") else 1))

    lad = design["ladder"]
    for n, r in enumerate(lad["resistors"], start=1):
        assert [ohms(v) for v in _resistors(vnet, f"BUTTON{n}_LADDER", "BUTTONS")] == [r]
        assert ("SW_Push", "1") in _nodes(vnet, "+3V3") and ("SW_Push", "2") in _nodes(vnet, f"BUTTON{n}_LADDER")
    assert [ohms(v) for v in _resistors(vnet, "BUTTONS", "GND")] == [lad["pull_down"]]


def test_variant_bom_is_exactly_the_netlist_difference(vnet, bom):
    default = netlist.read_netlist()
    mpns_default = Counter(c["fields"]["MPN"] for c in default["components"].values())
    mpns_variant = Counter(c["fields"]["MPN"] for c in vnet["components"].values())
    added = Counter()
    for r in bom:
        added[r["mpn"]] += int(r["qty"])
    assert mpns_variant - mpns_default == added
    assert mpns_default - mpns_variant == Counter(r["replaces"] for r in bom if r["change"] == "replace")


# ---------------------------------------------------------------------------------------------
# BOM and docs


@pytest.fixture(scope="module")
def bom():
    with open(BOM, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_bom_has_the_parts_the_design_names(bom, design):
    mpns = {r["mpn"] for r in bom}
    p = design["power"]
    assert {p["regulator"], p["load_switch"], "USBLC6-2SC6", "SC1631", "RC0805FR-0722RL",
            "EEU-FR1A151"} <= mpns
    replaced = {r["replaces"] for r in bom if r["change"] == "replace"}
    default_mpns = {r["mpn"] for r in csv.DictReader((HW / "bom.csv").read_text(encoding="utf-8").splitlines())}
    assert replaced <= default_mpns and replaced == {"SC0915", "R-78E5.0-0.5"}
    ladder_values = {int(float(r["value"].rstrip("k")) * 1000) for r in bom
                     if "ladder" in r["description"] and r["value"].endswith("k")}
    assert set(design["ladder"]["resistors"]) | {design["ladder"]["pull_down"]} <= ladder_values
    for r in bom:
        assert r["change"] in ("add", "replace") and int(r["qty"]) > 0 and float(r["unit_usd"]) > 0, r


def test_docs_name_the_parts_and_the_pins(bom, variant):
    text = (ROOT / "docs" / "usb-host.md").read_text(encoding="utf-8")
    guide = (ROOT / "docs" / "build.md").read_text(encoding="utf-8")
    for mpn in ("TPS2051BDR", "USBLC6-2SC6", "R-78E5.0-1.0", "SC1631"):
        assert mpn in text and mpn in guide, mpn
    for key in ("usb_host_dp", "usb_host_dm", "usb_host_en", "buttons"):
        assert variant["pins"][key]["gpio"] in text, key
