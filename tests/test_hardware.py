"""Hardware checks: pin map, generated firmware/pinmap.py, netlist, analog stages, BOM.

Pure Python: needs only pytest. Run: pytest -q tests/test_hardware.py
"""

import copy
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hardware import analog_check, netlist  # noqa: E402
from host_tools import pinmap  # noqa: E402


@pytest.fixture(scope="module")
def pins():
    return pinmap.load_pinmap()


@pytest.fixture(scope="module")
def net():
    return netlist.read_netlist()


@pytest.fixture(scope="module")
def analog():
    return analog_check.load_analog()


def node_index(net):
    """net name -> list of (ref, pin, pinfunction, part)."""
    comps = net["components"]
    return {name: [(r, p, f, comps[r]["part"]) for r, p, f in nodes] for name, nodes in net["nets"].items()}


def nets_of(net, ref):
    return {(p, f): name for name, nodes in net["nets"].items() for r, p, f in nodes if r == ref}


def refs_by_part(net, part):
    return sorted((r for r, c in net["components"].items() if c["part"] == part), key=netlist._natural)


def resistor_between(net, a, b):
    """Values of resistors with one end on net a and the other on net b."""
    ends = {}
    for name, nodes in net["nets"].items():
        for r, _, _ in nodes:
            if net["components"][r]["part"] == "R":
                ends.setdefault(r, set()).add(name)
    return [net["components"][r]["value"] for r, e in ends.items() if e == {a, b}]


# ---------------------------------------------------------------------------------------------
# Pin map


def test_pinmap_validates(pins):
    assert pinmap.validate_pinmap(pins) == []


def test_rp2040_function_table_matches_datasheet():
    exposed = set(pinmap.PICO_EXPOSED)

    def on_pico(function):
        return [g for g in pinmap.pins_for(function) if g in exposed]

    assert on_pico("uart0_tx") == [0, 12, 16, 28]
    assert on_pico("uart0_rx") == [1, 13, 17]
    assert on_pico("uart1_tx") == [4, 8, 20]
    assert on_pico("uart1_rx") == [5, 9, 21]
    assert on_pico("i2c0_sda") == [0, 4, 8, 12, 16, 20, 28]
    assert on_pico("i2c0_scl") == [1, 5, 9, 13, 17, 21]
    assert on_pico("i2c1_sda") == [2, 6, 10, 14, 18, 22, 26]
    assert on_pico("i2c1_scl") == [3, 7, 11, 15, 19, 27]
    assert on_pico("spi0_sck") == [2, 6, 18, 22]
    assert on_pico("spi0_tx") == [3, 7, 19]
    assert on_pico("spi1_sck") == [10, 14, 26]
    assert on_pico("spi1_tx") == [11, 15, 27]
    assert sorted(exposed) == list(range(23)) + [26, 27, 28]


def test_firmware_pinmap_is_generated_from_json():
    assert pinmap.main(["--check"]) == 0
    # The generator reproduces the committed file byte for byte.
    assert pinmap.render(pinmap.load_pinmap()) == pinmap.PINMAP_PY.read_text(encoding="utf-8")


def test_pinmap_check_fails_on_a_stale_file(tmp_path, capsys):
    stale = tmp_path / "pinmap.py"
    stale.write_text(pinmap.PINMAP_PY.read_text().replace('"GP0"', '"GP16"'))
    assert pinmap.main(["pinmap", "--check", "--out", str(stale)]) == 1
    assert "differs" in capsys.readouterr().err
    assert pinmap.main(["--out", str(stale)]) == 0
    assert stale.read_text() == pinmap.PINMAP_PY.read_text()
    assert pinmap.main(["--check", "--out", str(stale)]) == 0


def test_pinmap_generated_format(pins):
    text = pinmap.render(pins)
    lines = text.splitlines()
    assert lines[0].startswith('"""Pin assignment')
    body = [ln for ln in lines if re.match(r"^[A-Z0-9_]+ = ", ln)]
    # Every pin, then the board the USB host variant's map is for (docs/usb-host.md).
    variant = pinmap.load_pinmap(pinmap.PINMAP_USBHOST_JSON)["board"]
    assert body == [f'{k.upper()} = "{v["gpio"]}"' for k, v in pins["pins"].items()] + [
        f'USB_HOST_BOARD = "{variant}"']
    assert text.endswith('"\n')


def _bad(pins, **changes):
    data = copy.deepcopy(pins)
    for key, value in changes.items():
        if value is None:
            del data["pins"][key]
        else:
            data["pins"][key] = value
    return data


@pytest.mark.parametrize("changes, expected", [
    ({"midi_out3": {"gpio": "GP2", "function": "uart0_tx"}}, "midi_out3: uart0_tx is not available on GP2"),
    ({"run_out": {"gpio": "GP23", "function": "gpio_out"}}, "GP23 is not a GPIO a Raspberry Pi Pico exposes"),
    ({"run_out": {"gpio": "GP25", "function": "gpio_out"}}, "GP25 is not a GPIO a Raspberry Pi Pico exposes"),
    ({"midi_in2": None, "midi_out2": None,
      "midi_in1": {"gpio": "GP5", "function": "uart1_rx"}}, "TX on uart0 and RX on uart1"),
    ({"dac_scl": None}, "i2c0: I2C needs SDA and SCL on the same block"),
    ({"dac_scl": {"gpio": "GP3", "function": "i2c1_scl"}}, "i2c0: I2C needs SDA and SCL"),
    ({"midi_out1": {"gpio": "GP0", "function": "uart7_tx"}}, "unknown function 'uart7_tx'"),
])
def test_wrong_pinmaps_give_the_right_error(pins, changes, expected):
    errors = pinmap.validate_pinmap(_bad(pins, **changes))
    assert any(expected in e for e in errors), errors


def test_pin_used_twice(pins):
    gp = pins["pins"]["gate1"]["gpio"]
    errors = pinmap.validate_pinmap(_bad(pins, gate2={"gpio": gp, "function": "gpio_out"}))
    assert f"gate2: {gp} is already used by gate1" in errors, errors


def test_too_many_pio_users(pins):
    data = copy.deepcopy(pins)
    for key in ("gate1", "gate2", "gate3", "gate4"):
        data["pins"][key]["function"] = "pio_tx"  # 5 PIO users + 4 = 9 > 8
    errors = pinmap.validate_pinmap(data)
    assert any("PIO: 9 users" in e for e in errors), errors
    data["pins"]["gate4"]["function"] = "gpio_out"
    assert pinmap.validate_pinmap(data) == []


def test_invalid_pinmap_makes_the_command_fail(pins, tmp_path, capsys):
    import json
    bad = tmp_path / "pinmap.json"
    gp = pins["pins"]["gate1"]["gpio"]
    bad.write_text(json.dumps(_bad(pins, gate2={"gpio": gp, "function": "gpio_out"})))
    out = tmp_path / "pinmap.py"
    assert pinmap.main(["--json", str(bad), "--out", str(out)]) == 1
    assert "already used" in capsys.readouterr().err
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# Netlist


def test_netlist_files_are_up_to_date():
    assert netlist.main(["--check"]) == 0


def test_netlist_parses_and_every_net_is_connected(net):
    assert len(net["components"]) > 100
    for name, nodes in net["nets"].items():
        refs = {r for r, _, _ in nodes}
        assert refs <= set(net["components"]), name
        if name != "VBUS":  # VBUS: the Pico's own USB socket feeds it
            assert len(nodes) >= 2, f"net {name} has one node"


def test_netlist_pico_nets_match_pinmap(pins, net):
    (pico,) = refs_by_part(net, "RaspberryPi_Pico")
    pico_nets = nets_of(net, pico)
    by_gpio = {f: name for (p, f), name in pico_nets.items() if f.startswith("GP")}
    want = {e["gpio"]: key.upper() for key, e in pins["pins"].items()}
    assert by_gpio == want
    idx = node_index(net)

    def has(netname, part, func_re):
        return any(part == pt and re.fullmatch(func_re, f) for _, _, f, pt in idx[netname])

    for key, e in pins["pins"].items():
        n, fn = key.upper(), e["function"]
        if fn.endswith("_tx") and key.startswith("midi_out"):
            assert has(n, "74LVC125", r"\dA"), key
        elif fn.endswith("_rx") and key.startswith("midi_in"):
            assert has(n, "H11L1", "VO"), key
        elif fn.startswith("i2c"):
            assert sum(1 for _, _, f, pt in idx[n] if pt == "MCP4728" and f == fn[-3:].upper()) == 2, key
        elif fn == "spi0_sck":
            assert has(n, "74HCT595", "SRCLK"), key
        elif fn == "spi0_tx":
            assert has(n, "74HCT595", "SER"), key
        elif key == "drum_latch":
            assert has(n, "74HCT595", "RCLK"), key
        elif fn in ("gpio_out", "neopixel"):
            assert has(n, "74HCT541", r"A\d"), key
        elif key.startswith("button"):
            assert has(n, "SW_Push", r"\d"), key
        elif key == "clock_in":
            assert has(n, "Q_NPN_EBC", "C"), key
        else:
            pytest.fail(f"no wiring rule for pin map key {key} ({fn})")
    for name in ("+3V3", "VSYS", "GND"):
        assert name in pico_nets.values()


def test_midi_in_circuit(net):
    opto = refs_by_part(net, "H11L1")
    assert len(opto) == 4
    for u in opto:
        n = nets_of(net, u)
        assert n[("6", "VCC")] == "+3V3" and n[("5", "GND")] == "GND"
        a, k = n[("1", "A")], n[("2", "K")]
        # 220 ohm from a DIN pin 4, the cathode on DIN pin 5, a diode backwards across the LED.
        dins = [r for r, p, f in net["nets"][k] if net["components"][r]["part"] == "DIN-5_180degree" and p == "5"]
        assert len(dins) == 1
        pin4 = nets_of(net, dins[0])[("4", "4")]
        assert resistor_between(net, pin4, a) == ["220"]
        diode = {r for r, p, f in net["nets"][a] if f == "K"} & {r for r, p, f in net["nets"][k] if f == "A"}
        assert len(diode) == 1
        assert resistor_between(net, n[("4", "VO")], "+3V3"), "output pull-up"


def test_midi_out_ca033_resistors(net):
    (buf,) = refs_by_part(net, "74LVC125")
    outs = [d for d in refs_by_part(net, "DIN-5_180degree") if nets_of(net, d).get(("2", "2")) == "GND"]
    assert len(outs) == 4
    buffered = {name for (p, f), name in nets_of(net, buf).items() if f.endswith("Y")}
    for d in outs:
        n = nets_of(net, d)
        assert resistor_between(net, "+3V3", n[("4", "4")]) == ["33"]  # RA
        rc = [name for name in buffered if resistor_between(net, name, n[("5", "5")])]
        assert len(rc) == 1 and resistor_between(net, rc[0], n[("5", "5")]) == ["10"]  # RC
    assert {c["fields"]["MPN"] for r, c in net["components"].items() if c["value"] == "33"} == {"RC1210FR-0733RL"}


def test_dacs_addresses_and_ldac(net, analog):
    dacs = refs_by_part(net, "MCP4728")
    mpns = sorted(net["components"][u]["fields"]["MPN"] for u in dacs)
    assert mpns == ["MCP4728-E/UN", "MCP4728A4-E/UN"]
    assert {analog_check.MCP4728_ADDRESS[m] for m in mpns} == {analog["dac"]["pitch_address"],
                                                             analog["dac"]["mod_address"]}
    for u in dacs:
        n = nets_of(net, u)
        assert n[("4", "~{LDAC}")] == "GND", "LDAC tied to GND: the firmware has no pin for it"
        assert n[("1", "VDD")] == "+3V3"
    assert analog["dac"]["ldac"] == "gnd"


def test_every_output_jack_has_a_series_resistor(net):
    idx = node_index(net)
    jacks = refs_by_part(net, "AudioJack2_SwitchT")
    assert len(jacks) == 24
    for j in jacks:
        tip = nets_of(net, j)[("T", "T")]
        parts = Counter(pt for _, _, _, pt in idx[tip])
        if tip == "JACK_CLOCK_IN":
            assert resistor_between(net, tip, "CLOCK_IN_BASE") == ["47k"]
            continue
        # Only resistors (and the jack) touch a jack tip: no IC pin drives a jack directly.
        assert set(parts) <= {"R", "AudioJack2_SwitchT"}, (tip, parts)
        assert parts["R"] >= 1, tip


def test_power_protection_and_regulator(net):
    (hdr,) = refs_by_part(net, "Conn_02x05_Odd_Even")
    n = nets_of(net, hdr)
    assert {n[(str(p), f"Pin_{p}")] for p in (1, 2)} == {"-12V_IN"}
    assert {n[(str(p), f"Pin_{p}")] for p in range(3, 9)} == {"GND"}
    assert {n[(str(p), f"Pin_{p}")] for p in (9, 10)} == {"+12V_IN"}
    idx = node_index(net)
    assert [f for _, _, f, pt in idx["+12V_IN"] if pt == "D_Schottky"] == ["A"]
    assert [f for _, _, f, pt in idx["-12V_IN"] if pt == "D_Schottky"] == ["K"]
    (reg,) = refs_by_part(net, "R-78E5.0-0.5")
    assert nets_of(net, reg)[("1", "VIN")] == "+12V"
    # Nothing but the protection diodes touches the raw header rails.
    assert {pt for _, _, _, pt in idx["+12V_IN"]} == {"Conn_02x05_Odd_Even", "D_Schottky"}
    for u in refs_by_part(net, "OPA4197xD"):
        assert nets_of(net, u)[("4", "V+")] == "+12V" and nets_of(net, u)[("11", "V-")] == "-12V"


# ---------------------------------------------------------------------------------------------
# Analog


def test_analog_checks_pass(analog, net):
    report = analog_check.check(analog, net)
    assert report["errors"] == []
    f = report["figures"]
    assert f["pitch_range_v"][0] <= 0.0 and f["pitch_range_v"][1] >= 8.0
    assert f["mod_range_v"][0] <= 0.0 and f["mod_range_v"][1] >= 5.0
    assert f["pitch_step_mv"] == pytest.approx(2.0)
    assert f["pitch_step_cents"] == pytest.approx(2.4)
    assert f["pitch_code_for_8v"] == 4000
    assert f["dac_full_scale_v"] < analog["dac"]["vdd"]
    assert len(f["netlist_stages"]) == 8


def test_netlist_resistors_give_analog_json_gains(analog, net):
    stages = analog_check.stages_from_netlist(net)
    gains = {s["jack_net"]: s["gain"] for s in stages}
    for n in range(1, 5):
        assert gains[f"JACK_CV{n}"] == pytest.approx(analog["stages"]["pitch"]["gain"], rel=1e-12)
        assert gains[f"JACK_MOD{n}"] == pytest.approx(analog["stages"]["mod"]["gain"], rel=1e-12)


@pytest.mark.parametrize("path, value, expected", [
    (("dac", "dac_gain"), 2, "clips at VDD"),
    (("stages", "pitch", "gain"), 3.9, "pitch: covers"),
    (("stages", "pitch", "gain"), 3.9, "resistors give gain 4"),
    (("stages", "mod", "gain"), 2.4, "mod: covers"),
    (("stages", "pitch", "offset"), 0.1, "pitch: covers"),
    (("stages", "pitch", "rail_max"), 8.0, "leaves the rails"),
    (("stages", "mod", "rail_max"), 11.5, "are beyond what OPA4197"),
    (("dac", "pitch_address"), 0x61, "analog.json says address 0x61"),
])
def test_analog_check_catches_wrong_values(analog, net, path, value, expected):
    bad = copy.deepcopy(analog)
    d = bad
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value
    errors = analog_check.check(bad, net)["errors"]
    assert any(expected in e for e in errors), errors


def test_analog_check_catches_a_wrong_resistor(analog, net):
    bad = copy.deepcopy(net)
    rf = next(r for r, c in bad["components"].items() if c["value"].startswith("30k"))
    bad["components"][rf]["value"] = "33k 0.1%"
    errors = analog_check.check(analog, bad)["errors"]
    assert any("resistors give gain 4.3" in e for e in errors), errors


# ---------------------------------------------------------------------------------------------
# BOM


def test_bom_matches_netlist(net):
    rows = netlist.read_bom()
    assert rows and list(rows[0]) == netlist.BOM_FIELDS
    listed = Counter()
    for row in rows:
        assert row["description"].strip() and row["mpn"].strip() and row["manufacturer"].strip(), row
        assert int(row["qty"]) > 0
        refs = row["refs"].split()
        if not refs:
            continue  # mechanical parts: no node in the netlist
        assert int(row["qty"]) == len(refs), row
        for r in refs:
            c = net["components"][r]
            assert c["fields"]["MPN"] == row["mpn"], (r, row["mpn"])
            assert c["value"] == row["value"], (r, row["value"])
            listed[r] += 1
    assert set(listed) == set(net["components"]), set(net["components"]) ^ set(listed)
    assert max(listed.values()) == 1
    by_mpn = Counter(c["fields"]["MPN"] for c in net["components"].values())
    bom_qty = Counter()
    for row in rows:
        if row["refs"]:
            bom_qty[row["mpn"]] += int(row["qty"])
    assert bom_qty == by_mpn


def test_bom_key_part_counts(net):
    by_mpn = Counter(c["fields"]["MPN"] for c in net["components"].values())
    assert by_mpn["H11L1M"] == 4
    assert by_mpn["SDS-50J"] == 8
    assert by_mpn["PJ398SM"] == 24
    assert by_mpn["OPA4197IDR"] == 2
    assert by_mpn["MCP4728-E/UN"] == 1 and by_mpn["MCP4728A4-E/UN"] == 1
    assert by_mpn["SN74HCT595N"] == 1 and by_mpn["SN74HCT541N"] == 1
    assert by_mpn["WS2812B"] == 9
    assert by_mpn["B3F-1000"] == 4


def test_build_guide_documents_calibration():
    text = (ROOT / "docs" / "build.md").read_text(encoding="utf-8")
    assert '"calibration"' in text and '"cv1"' in text and "offset" in text and "scale" in text


def test_build_guide_references_match_the_netlist(net):
    text = (ROOT / "docs" / "build.md").read_text(encoding="utf-8")
    comps = net["components"]
    mpn = {r: c["fields"]["MPN"] for r, c in comps.items()}
    expect = {"U2": "R-78E5.0-0.5", "U7": "SN74LVC125ADR", "U8": "MCP4728-E/UN", "U9": "MCP4728A4-E/UN",
              "U10": "OPA4197IDR", "U11": "OPA4197IDR", "U12": "SN74HCT541N", "U13": "SN74HCT595N",
              "J1": "61201021621", "Q1": "2N3904BU", "D1": "1N5819-T", "D2": "1N5819-T", "D3": "1N5819-T"}
    for ref, part in expect.items():
        assert mpn[ref] == part, ref
        assert re.search(rf"\b{ref}\b", text), ref
    assert [r for r in comps if comps[r]["value"] == "10k 0.1%"] == ["R20", "R28", "R36", "R44"]
    assert [r for r in comps if comps[r]["value"] == "30k 0.1%"] == ["R21", "R29", "R37", "R45"]
    assert "R20/R28/R36/R44" in text and "R21/R29/R37/R45" in text
    assert [r for r in comps if comps[r]["value"] == "330p"] == ["C19", "C20", "C21", "C22"]
    assert ("1", "+") in nets_of(net, "C2") and nets_of(net, "C2")[("1", "+")] == "GND"
    assert [r for r in comps if comps[r]["value"] == "1N4148"] == ["D4", "D5", "D6", "D7", "D8"]
