"""The seeds' setups (examples/configs) do in the simulator what their musicians asked for."""

import json
from pathlib import Path

from host_tools import midiwire
from host_tools.sim import runner

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "examples" / "configs"
MS = 1_000_000


def run(name, inputs, events=()):
    text = (CONFIGS / name).read_text()
    result = runner.simulate(text, inputs={p: [(int(t * MS), bytes(b)) for t, b in lines] for p, lines in inputs.items()},
                             events=[(int(t * MS), a, b) for t, a, b in events])
    assert result.config_errors == [], result.config_errors
    return {port: [m.data for m in midiwire.decode(timed)[0]] for port, timed in result.outputs.items()}


def test_every_example_config_is_valid_json_with_presets():
    for path in sorted(CONFIGS.glob("*.json")):
        raw = json.loads(path.read_text())
        assert raw["presets"], path


def test_digitakt_master_keys_via_digitakt_bend_and_mod_straight_to_the_synth():
    out = run("digitakt-master.json", {
        "in1": [(0, [0x90, 60, 100]), (5, [0xE0, 0, 0x50]), (8, [0xB0, 1, 90]), (12, [0x80, 60, 0])],
        "in2": [(1, [0xFA]), (2, [0xF8]), (3, [0x91, 48, 110]), (4, [0xF8]), (20, [0x81, 48, 0])],
    })
    # The Digitakt gets the keys on its auto channel, and none of its own clock back.
    assert out["out1"] == [bytes([0x9F, 60, 100]), bytes([0x8F, 60, 0])]
    # The Rev2 gets bend and mod wheel on its channel, plus the Digitakt's track and clock.
    assert bytes([0xE0, 0, 0x50]) in out["out2"] and bytes([0xB0, 1, 90]) in out["out2"]
    assert bytes([0x91, 48, 110]) in out["out2"]
    for port in ("out2", "out3", "out4", "usb"):
        assert out[port].count(bytes([0xF8])) == 2 and bytes([0xFA]) in out[port], port
    # The OP-Z and Minitaur get no KeyStep bend in this preset.
    assert not any(m[0] == 0xE0 for m in out["out3"] + out["out4"])


def test_digitakt_master_preset_button_moves_the_bend_to_another_synth():
    out = run("digitakt-master.json", {"in1": [(0, [0xE0, 0, 0x40]), (200, [0xE0, 0, 0x60])]},
              events=[(100, "press", "button2"), (150, "release", "button2")])
    assert out["out2"] == [bytes([0xE0, 0, 0x40])]
    assert out["out3"] == [bytes([0xE1, 0, 0x60])]


def test_a4_rytm_two_synths_keystep_and_a4_reach_both_synths_a4_clocks_the_rytm():
    out = run("a4-rytm-two-synths.json", {
        "in1": [(0, [0x90, 60, 100]), (3, [0x94, 62, 100]), (6, [0x95, 64, 100])],
        "in2": [(1, [0xFA, 0xF8]), (10, [0x94, 50, 90]), (13, [0x95, 52, 90]), (16, [0xF8, 0xFC])],
    })
    assert out["out1"] == [bytes([0x90, 60, 100])]  # A4 tracks 1-4 from the KeyStep, no clock echo
    assert out["out3"] == [bytes([0xFA]), bytes([0xF8]), bytes([0x94, 62, 100]), bytes([0x94, 50, 90]),
                           bytes([0xF8]), bytes([0xFC])]
    assert bytes([0x95, 64, 100]) in out["out4"] and bytes([0x95, 52, 90]) in out["out4"]
    assert out["out2"] == [bytes([0xFA]), bytes([0xF8]), bytes([0xF8]), bytes([0xFC])]  # the Rytm: clock only


def test_a4_preset_two_moves_the_keystep_to_the_ju06a_channel():
    out = run("a4-rytm-two-synths.json", {"in1": [(200, [0x90, 60, 100]), (210, [0x80, 60, 0])]},
              events=[(100, "press", "button2"), (150, "release", "button2")])
    assert out["out3"] == [bytes([0x94, 60, 100]), bytes([0x84, 60, 0])]
    assert out["out1"] == []


def test_sixteen_presets_boot_and_step_to_the_last_preset():
    """A live set of 16 presets (examples/configs/sixteen-presets.json) boots, routes preset 1,
    and holding button 1 steps back to preset 16 (wrapping), whose routing then applies."""
    text = (CONFIGS / "sixteen-presets.json").read_text()
    assert len(json.loads(text)["presets"]) == 16
    note = [0x90, 60, 100]
    result = runner.simulate(text, inputs={"in1": [(int(t * MS), bytes(b)) for t, b in (
        (50, note), (60, [0x80, 60, 0]), (1000, [0x91, 62, 90]), (1010, [0x81, 62, 0]))]},
        events=[(int(100 * MS), "press", "button1"), (int(700 * MS), "release", "button1")])
    assert result.config_errors == [], result.config_errors
    assert "Thruway ready" in result.console
    assert "preset 16: Panic-safe: thru only" in result.console
    out = {port: [m.data for m in midiwire.decode(timed)[0]] for port, timed in result.outputs.items()}
    # Preset 1 sends the KeyStep's channel 1 to the Digitakt on its auto channel 16 ...
    assert out["out1"][:2] == [bytes([0x9F, 60, 100]), bytes([0x8F, 60, 0])]
    # ... preset 16 is plain thru: in1 to out1 only, its channel kept.
    assert out["out1"][2:] == [bytes([0x91, 62, 90]), bytes([0x81, 62, 0])]
    for port in ("out2", "out3", "out4", "usb"):
        assert out[port] == [], port


def jacks_at(result, t_ms):
    """Each signal's value at ``t_ms`` (volts)."""
    out = {}
    for t, name, value in result.signals:
        if t <= t_ms * MS:
            out[name] = value
    return out


def test_modular_split_bass_below_c4_chords_above_and_the_pedal_holds_both():
    """Seed 000's split (examples/configs/modular-split.json): the bass on voice 4, a chord on
    voices 1-3 from one keyboard channel; the pedal holds both after the keys are released."""
    text = (CONFIGS / "modular-split.json").read_text()
    keys = [(1, [0x90, 36, 100]), (3, [0x90, 60, 100, 0x90, 64, 100, 0x90, 67, 100]), (10, [0xB0, 64, 127]),
            (12, [0x80, 36, 0, 0x80, 60, 0, 0x80, 64, 0, 0x80, 67, 0]), (60, [0xB0, 64, 0])]
    result = runner.simulate(text, inputs={"in1": [(int(t * MS), bytes(b)) for t, b in keys]}, until_ms=90)
    assert result.config_errors == [], result.config_errors
    held = jacks_at(result, 55)
    chord = sorted(round(held["cv%d" % k] * 12) + 24 for k in (1, 2, 3))
    assert chord == [60, 64, 67] and round(held["cv4"] * 12) + 24 == 36
    assert all(held["gate%d" % k] > 0 for k in (1, 2, 3, 4))  # keys up since 12 ms: the pedal holds
    assert all(jacks_at(result, 85)["gate%d" % k] == 0 for k in (1, 2, 3, 4))  # lifted at 60 ms


def test_explain_names_the_split():
    from host_tools import explain

    text = "\n".join(explain.explain_text((CONFIGS / "modular-split.json").read_text()))
    assert "CV: poly on ch 1 over voices 1-3 (reuse allocation), notes C4 to G9" in text
    assert "CV voice 4 (cv4, gate4, mod4): ch 1, notes C-1 to B3, low-note priority" in text
