"""Proof by computation that the CV stages do what ``hardware/analog.json`` says.

    python -m hardware.analog_check          print the report; exit 1 if any check fails

What it checks (``check()`` returns ``{"errors": [...], "warnings": [...], "figures": {...}}``):
- DAC: internal 2.048 V reference x gain 1 stays below VDD (no clipping), also for a worst-case
  part (reference 2.089 V, gain error +1.25 %), with the MCP4728's output headroom to VDD.
- Pitch stage: code 0 -> 0 V and code 4095 -> at least 8 V, so MIDI note 24..120 (0..8 V) fits;
  the code for 8 V; step size in mV and cents.
- Mod stage: covers 0..5 V.
- Op-amp: every stage output stays inside rail_min/rail_max, and those are inside what the op-amp
  can swing from the Eurorack rails after the protection diodes (analog.json "opamp").
- Netlist: each op-amp section's gain computed from its resistors (1 + Rf/Rg, with Rf from the
  jack side when the output resistor is inside the loop) equals the stage gain in analog.json,
  and the stage is fed by the DAC at the address analog.json names.
Warnings (not failures) say what a worst-case part does to the ends of the range: calibration
fixes scale and offset in between, not codes the DAC cannot reach.
"""

import json
import math
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ANALOG_JSON = HERE / "analog.json"

# MCP4728 datasheet (DS22187E), electrical characteristics, internal reference, gain 1.
MCP4728_VREF_MIN, MCP4728_VREF_MAX = 2.007, 2.089  # V
MCP4728_GAIN_ERROR = 0.0125  # +/- of full scale, max
MCP4728_OFFSET_ERROR_MAX = 0.020  # V at code 0 (5 mV typical)
MCP4728_OUTPUT_HEADROOM = 0.1  # V kept below VDD (conservative for a rail-to-rail output buffer)
MCP4728_ADDRESS = {"MCP4728-E/UN": 0x60, "MCP4728A4-E/UN": 0x64}
PICO_3V3_TOLERANCE = 0.03  # the Pico's 3V3 buck-boost, taken as +/-3 %

# The musical range (design.md section 5): 0 V at note 24, 8 V at note 120; mod 0..5 V.
PITCH_RANGE = (0.0, 8.0)
MOD_RANGE = (0.0, 5.0)
EPS = 1e-9


def load_analog(path=ANALOG_JSON):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def parse_ohms(value):
    """'30k 0.1%' -> 30000.0, '2.2k' -> 2200.0, '33' -> 33.0, '1M' -> 1e6."""
    m = re.match(r"\s*([0-9.]+)\s*([kKmMR]?)", value)
    if not m:
        raise ValueError(f"not a resistor value: {value!r}")
    mult = {"": 1, "R": 1, "k": 1e3, "K": 1e3, "M": 1e6, "m": 1e6}[m.group(2)]
    return float(m.group(1)) * mult


def parse_tolerance(value, default=0.01):
    m = re.search(r"([0-9.]+)\s*%", value)
    return float(m.group(1)) / 100 if m else default


def dac_lsb(analog):
    d = analog["dac"]
    return d["vref_volts"] * d["dac_gain"] / (1 << d["bits"])


def dac_code_max(analog):
    return (1 << analog["dac"]["bits"]) - 1


def stage_volts(analog, stage, code):
    s = analog["stages"][stage]
    return code * dac_lsb(analog) * s["gain"] + s["offset"]


def code_for(analog, stage, volts):
    s = analog["stages"][stage]
    return round((volts - s["offset"]) / s["gain"] / dac_lsb(analog))


# ---------------------------------------------------------------------------------------------
def stages_from_netlist(net):
    """For every op-amp section in a parsed netlist (hardware.netlist.read_netlist): its jack, gain
    from the resistors, resistor tolerance, and the DAC (address, channel) feeding it."""
    comps, nets = net["components"], net["nets"]
    pin_net = {}
    for name, nodes in nets.items():
        for ref, _pin, func in nodes:
            pin_net[(ref, func)] = name
    resistors = []  # (ref, ohms, tolerance, net_a, net_b)
    for ref, c in comps.items():
        if c["lib"] == "Device" and c["part"] == "R":
            ends = [name for name, nodes in nets.items() for r, _, _ in nodes if r == ref]
            if len(ends) == 2:
                resistors.append((ref, parse_ohms(c["value"]), parse_tolerance(c["value"]), *ends))

    def across(net_name, exclude=()):
        return [(r, ohms, tol, b if a == net_name else a) for r, ohms, tol, a, b in resistors
                if net_name in (a, b) and r not in exclude]

    jacks = {pin_net.get((ref, "T")): ref for ref, c in comps.items() if c["part"].startswith("AudioJack")}
    result = []
    for ref, c in sorted(comps.items()):
        if c["lib"] != "Amplifier_Operational":
            continue
        for s in "ABCD":
            minus, plus, out = (pin_net.get((ref, f"-IN{s}")), pin_net.get((ref, f"+IN{s}")),
                                pin_net.get((ref, f"OUT{s}")))
            if not (minus and plus and out):
                continue
            rg = [x for x in across(minus) if x[3] == "GND"]
            rf = [x for x in across(minus) if x[3] != "GND"]
            entry = {"opamp": f"{ref}{s}", "errors": []}
            if not rg or len(rf) != 1:
                entry["errors"].append(f"{ref}{s}: expected Rg to GND and one Rf on -IN{s} ({minus})")
                result.append(entry)
                continue
            g_ohms = 1 / sum(1 / x[1] for x in rg)
            f_ref, f_ohms, f_tol, f_far = rf[0]
            # Rf ends on the output, or on the far side of a resistor from the output (in-loop).
            if f_far == out:
                jack_net, in_loop = None, False
            else:
                iso = [x for x in across(out) if x[3] == f_far]
                if not iso:
                    entry["errors"].append(f"{ref}{s}: Rf {f_ref} does not return from the output")
                    result.append(entry)
                    continue
                jack_net, in_loop = f_far, True
            if jack_net is None:  # output resistor outside the loop: OUT -> R -> jack
                outs = [x[3] for x in across(out, exclude=(f_ref,)) if x[3] in jacks]
                jack_net = outs[0] if outs else None
            gain = 1 + f_ohms / g_ohms
            g_tol = max(x[2] for x in rg)
            gain_tol = (f_ohms / g_ohms) / gain * (f_tol + g_tol)
            # The DAC: +IN <- R <- a MCP4728 VOUT pin.
            dac = None
            for _r, _, _, far in across(plus):
                for (dref, func), name in pin_net.items():
                    if name == far and comps[dref]["part"] == "MCP4728" and func.startswith("VOUT"):
                        mpn = comps[dref]["fields"].get("MPN", "")
                        dac = {"ref": dref, "mpn": mpn, "address": MCP4728_ADDRESS.get(mpn),
                               "channel": func[-1]}
            entry.update({"jack": jacks.get(jack_net), "jack_net": jack_net, "gain": gain,
                          "gain_tolerance": gain_tol, "rf": f_ohms, "rg": g_ohms,
                          "output_resistor_in_loop": in_loop, "dac": dac})
            result.append(entry)
    return result


# ---------------------------------------------------------------------------------------------
def check(analog=None, netlist=None):
    analog = load_analog() if analog is None else analog
    errors, warnings, figures = [], [], {}
    d = analog["dac"]
    lsb, top = dac_lsb(analog), dac_code_max(analog)
    if d.get("vref") != "internal":
        errors.append("dac: the stages assume the internal 2.048 V reference")
    fs = top * lsb
    fs_worst = top / (1 << d["bits"]) * MCP4728_VREF_MAX * d["dac_gain"] * (1 + MCP4728_GAIN_ERROR)
    vdd_min = d["vdd"] * (1 - PICO_3V3_TOLERANCE)
    figures["dac_full_scale_v"] = fs
    figures["dac_full_scale_worst_v"] = fs_worst
    figures["dac_limit_v"] = vdd_min - MCP4728_OUTPUT_HEADROOM
    if fs_worst > vdd_min - MCP4728_OUTPUT_HEADROOM:
        errors.append(f"dac: full scale up to {fs_worst:.3f} V clips at VDD {d['vdd']} V "
                      f"(usable up to {vdd_min - MCP4728_OUTPUT_HEADROOM:.3f} V)")

    op = analog["opamp"]
    swing = op["supply_volts"] * (1 - op["supply_tolerance"]) - op["protection_diode_drop"] - op["output_headroom"]
    figures["opamp_usable_swing_v"] = swing
    for name, s in analog["stages"].items():
        lo, hi = stage_volts(analog, name, 0), stage_volts(analog, name, top)
        figures[f"{name}_range_v"] = (lo, hi)
        if lo < s["rail_min"] - EPS or hi > s["rail_max"] + EPS:
            errors.append(f"{name}: output {lo:.3f}..{hi:.3f} V leaves the rails "
                          f"{s['rail_min']}..{s['rail_max']} V")
        if s["rail_max"] > swing + EPS or s["rail_min"] < -swing - EPS:
            errors.append(f"{name}: rails {s['rail_min']}..{s['rail_max']} V are beyond what {op['part']} "
                          f"swings from +/-{op['supply_volts']} V ({swing:.2f} V)")

    def covers(name, want):
        lo, hi = figures[f"{name}_range_v"]
        if lo > want[0] + EPS or hi < want[1] - EPS:
            errors.append(f"{name}: covers {lo:.3f}..{hi:.3f} V, not {want[0]}..{want[1]} V")

    covers("pitch", PITCH_RANGE)
    covers("mod", MOD_RANGE)
    step = lsb * analog["stages"]["pitch"]["gain"]
    figures["pitch_step_mv"] = step * 1000
    figures["pitch_step_cents"] = step * 1200
    figures["pitch_code_for_8v"] = code_for(analog, "pitch", PITCH_RANGE[1])
    figures["mod_code_for_5v"] = code_for(analog, "mod", MOD_RANGE[1])
    figures["mod_step_mv"] = lsb * analog["stages"]["mod"]["gain"] * 1000
    for name, want in (("pitch", PITCH_RANGE), ("mod", MOD_RANGE)):
        c = figures[f"{name}_code_for_{int(want[1])}v"]
        if not 0 <= c <= top:
            errors.append(f"{name}: {want[1]} V needs code {c}, outside 0..{top}")
    figures["calibration_headroom_percent"] = (top / figures["pitch_code_for_8v"] - 1) * 100

    # What a worst-case DAC and resistor set do to the ends of the range.
    stages = stages_from_netlist(netlist) if netlist is not None else []
    pitch_tol = max((s.get("gain_tolerance", 0) for s in stages if s.get("jack_net", "") and
                     "CV" in (s.get("jack_net") or "")), default=0.0)
    g = analog["stages"]["pitch"]["gain"]
    worst_top = top / (1 << d["bits"]) * MCP4728_VREF_MIN * d["dac_gain"] * (1 - MCP4728_GAIN_ERROR) * g * (1 - pitch_tol)
    figures["pitch_top_worst_v"] = worst_top
    if worst_top < PITCH_RANGE[1]:
        warnings.append(f"pitch: with a worst-case MCP4728 (reference {MCP4728_VREF_MIN} V, gain error "
                        f"-{MCP4728_GAIN_ERROR * 100:.2f} %) code {top} gives {worst_top:.3f} V: the top "
                        f"{(PITCH_RANGE[1] - worst_top) * 1000:.0f} mV (note 120) may be out of reach; "
                        f"a typical part reaches {fs * g:.3f} V")
    bottom = MCP4728_OFFSET_ERROR_MAX * g
    figures["pitch_bottom_offset_worst_v"] = bottom
    warnings.append(f"pitch: the MCP4728 offset error (5 mV typical, {MCP4728_OFFSET_ERROR_MAX * 1000:.0f} mV "
                    f"max at code 0) is x{g:g} at the jack: the lowest notes may sit up to "
                    f"{bottom * 1000:.0f} mV ({bottom * 1200:.0f} cents) high; calibration at 1 V and 7 V "
                    f"corrects everything above that")

    # The netlist: every op-amp section's gain and DAC against analog.json.
    if netlist is not None:
        want_stage = {"CV": "pitch", "MOD": "mod"}
        addr = {"pitch": d["pitch_address"], "mod": d["mod_address"]}
        seen = {"pitch": 0, "mod": 0}
        for s in stages:
            errors.extend(s["errors"])
            if s["errors"]:
                continue
            m = re.match(r"JACK_(CV|MOD)(\d)$", s["jack_net"] or "")
            if not m:
                errors.append(f"{s['opamp']}: output reaches no CV or MOD jack")
                continue
            name = want_stage[m.group(1)]
            seen[name] += 1
            want = analog["stages"][name]["gain"]
            if abs(s["gain"] - want) > 1e-9 * want:
                errors.append(f"{s['jack_net']}: resistors give gain {s['gain']:.6g} "
                              f"(Rf {s['rf']:g} / Rg {s['rg']:g}), analog.json says {want}")
            if not s["dac"] or s["dac"]["address"] != addr[name]:
                errors.append(f"{s['jack_net']}: fed by DAC {s['dac']}, analog.json says address "
                              f"0x{addr[name]:02x}")
            if name == "pitch" and not s["output_resistor_in_loop"]:
                warnings.append(f"{s['jack_net']}: output resistor outside the loop: the load changes the pitch")
        for name, n in seen.items():
            if n != 4:
                errors.append(f"netlist: {n} {name} stages found, expected 4")
        figures["netlist_stages"] = [{k: s.get(k) for k in ("opamp", "jack_net", "gain", "gain_tolerance",
                                                            "output_resistor_in_loop")}
                                     | {"dac": (s.get("dac") or {}).get("address")} for s in stages]
        # Pitch settling: the in-loop output resistor's compensation cap sets the slow pole.
        figures["pitch_settling_us_estimate"] = None
        for c in netlist["components"].values():
            if c["part"] == "C" and c["value"].endswith("p"):
                cf = float(c["value"][:-1]) * 1e-12
                rf = max(s["rf"] for s in stages if s.get("output_resistor_in_loop"))
                figures["pitch_settling_us_estimate"] = rf * cf * math.log(2 * (1 << d["bits"])) * 1e6
                break
    return {"errors": errors, "warnings": warnings, "figures": figures}


def main(argv=None):
    from hardware.netlist import read_netlist
    report = check(load_analog(), read_netlist())
    f = report["figures"]
    print(f"DAC full scale {f['dac_full_scale_v']:.4f} V (worst case {f['dac_full_scale_worst_v']:.4f} V, "
          f"limit {f['dac_limit_v']:.3f} V)")
    print(f"pitch {f['pitch_range_v'][0]:.3f}..{f['pitch_range_v'][1]:.3f} V, step {f['pitch_step_mv']:.3f} mV "
          f"= {f['pitch_step_cents']:.2f} cents, 8 V at code {f['pitch_code_for_8v']} "
          f"(calibration headroom {f['calibration_headroom_percent']:.1f} %)")
    print(f"mod {f['mod_range_v'][0]:.3f}..{f['mod_range_v'][1]:.3f} V, step {f['mod_step_mv']:.3f} mV, "
          f"5 V at code {f['mod_code_for_5v']}")
    print(f"op-amp usable swing +/-{f['opamp_usable_swing_v']:.2f} V")
    if f.get("pitch_settling_us_estimate"):
        print(f"pitch stage settles to 1/2 LSB in about {f['pitch_settling_us_estimate']:.0f} us (estimate)")
    for s in f.get("netlist_stages", []):
        print(f"  {s['opamp']}: {s['jack_net']} gain {s['gain']:.4f} +/-{s['gain_tolerance'] * 100:.2f} % "
              f"from DAC 0x{s['dac'] or 0:02x}{' (output R in loop)' if s['output_resistor_in_loop'] else ''}")
    for w in report["warnings"]:
        print(f"warning: {w}")
    for e in report["errors"]:
        print(f"error: {e}", file=sys.stderr)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
