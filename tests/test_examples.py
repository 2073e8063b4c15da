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


def test_digitakt_master_keys_via_digitakt_bend_and_mod_follow_the_digitakt_track():
    out = run("digitakt-master.json", {
        "in1": [(0, [0x90, 60, 100]), (5, [0xE0, 0, 0x50]), (8, [0xB0, 1, 90]), (9, [0xB0, 64, 127]),
                (12, [0x80, 60, 0])],
        "in2": [(1, [0xFA]), (2, [0xF8]), (3, [0x91, 48, 110]), (4, [0xF8]), (20, [0x81, 48, 0])],
    })
    # The Digitakt gets the keys on its auto channel, and none of its own clock back.
    assert out["out1"] == [bytes([0x9F, 60, 100]), bytes([0x8F, 60, 0])]
    # Its track on channel 2 plays the OP-Z: the KeyStep's bend and mod wheel go to channel 2
    # (on every synth's output; only the OP-Z listens there), not its sustain pedal.
    for port in ("out2", "out3", "out4"):
        assert [m for m in out[port] if m[0] < 0xF0][2 if port == "out2" else 0:] == [
            bytes([0x91, 48, 110]), bytes([0xE1, 0, 0x50]), bytes([0xB1, 1, 90]), bytes([0x81, 48, 0])], port
    # The Digitakt's clock reaches every synth and the computer with no route for it.
    for port in ("out2", "out3", "out4", "usb"):
        assert out[port].count(bytes([0xF8])) == 2 and bytes([0xFA]) in out[port], port
    # The Rev2's sound is called up at power-up.
    assert [m for m in out["out2"] if m[0] < 0xF0][0:2] == [bytes([0xB0, 0, 0]), bytes([0xC0, 0])]


def test_digitakt_master_split_preset_and_selection_by_the_digitakt():
    # The Digitakt's program change 2 on channel 16 selects preset 3, the split; not forwarded.
    out = run("digitakt-master.json", {
        "in2": [(0, [0xCF, 2])],
        "in1": [(10, [0x90, 40, 100]), (12, [0x90, 60, 100]), (14, [0xB0, 1, 64]), (16, [0xE0, 0, 0x60])],
    })
    assert out["out4"] == [bytes([0x92, 28, 100]), bytes([0xE2, 0, 0x60])]  # Minitaur: bass, an octave down
    assert out["out2"][2:] == [bytes([0x90, 60, 100]), bytes([0xB0, 74, 64]), bytes([0xE0, 0, 0x60])]  # Rev2: mod as CC 74
    assert not any(m[0] == 0xCF for p in out.values() for m in p)


def test_a4_rytm_two_synths_keystep_and_a4_reach_both_synths_a4_clocks_the_rytm():
    out = run("a4-rytm-two-synths.json", {
        "in1": [(0, [0x90, 60, 100]), (3, [0x94, 62, 100]), (6, [0x95, 64, 100])],
        "in2": [(1, [0xFA, 0xF8]), (10, [0x94, 50, 90]), (13, [0x95, 52, 90]), (16, [0xF8, 0xFC])],
    })
    assert out["out1"] == [bytes([0x90, 60, 100])]  # A4 tracks 1-4 from the KeyStep, no clock echo
    # Each synth's sound is called up at power-up (on_enter), then the keys and the A4's clock.
    assert out["out3"] == [bytes([0xC4, 0]), bytes([0xFA]), bytes([0xF8]), bytes([0x94, 62, 100]),
                           bytes([0x94, 50, 90]), bytes([0xF8]), bytes([0xFC])]
    assert [m for m in out["out4"] if m[0] < 0xF0][:3] == [bytes([0xB5, 0, 0]), bytes([0xB5, 32, 1]), bytes([0xC5, 0])]
    assert bytes([0x95, 64, 100]) in out["out4"] and bytes([0x95, 52, 90]) in out["out4"]
    assert out["out2"] == [bytes([0xFA]), bytes([0xF8]), bytes([0xF8]), bytes([0xFC])]  # the Rytm: clock only
    assert out["usb"] == []  # clock.send off for the computer


def test_a4_preset_two_moves_the_keystep_to_the_ju06a_channel():
    out = run("a4-rytm-two-synths.json", {"in1": [(200, [0x90, 60, 100]), (205, [0xB0, 7, 100]), (210, [0x80, 60, 0])]},
              events=[(100, "press", "button2"), (150, "release", "button2")])
    assert out["out3"] == [bytes([0xC4, 0]), bytes([0xC4, 1]), bytes([0x94, 60, 100]), bytes([0x84, 60, 0])]
    assert out["out1"] == []


def test_a4_program_change_on_channel_16_selects_the_typhon_preset():
    out = run("a4-rytm-two-synths.json", {"in2": [(0, [0xCF, 2])], "in1": [(10, [0x90, 60, 100])]})
    assert out["out4"][3:] == [bytes([0xB5, 0, 0]), bytes([0xB5, 32, 1]), bytes([0xC5, 2]), bytes([0x95, 60, 100])]


def test_modular_keystep_split_bass_on_a_cv_voice_chords_on_midi():
    text = (CONFIGS / "modular-keystep.json").read_text()
    result = runner.simulate(text, inputs={"in1": [(int(200 * MS), bytes([0x90, 40, 100])),
                                                   (int(210 * MS), bytes([0x90, 64, 100]))]},
                             events=[(int(100 * MS), "press", "button4"), (int(150 * MS), "release", "button4")])
    assert result.config_errors == []
    out = [m.data for m in midiwire.decode(result.outputs["out1"])[0]]
    assert out == [bytes([0x90, 64, 100])]  # chords: from C3 up
    gate1 = [v for t, name, v in result.signals if name == "gate1" and t > 200 * MS]
    assert gate1 and gate1[0] > 1  # the bass note opens voice 1's gate
    assert not [v for t, name, v in result.signals if name == "gate2" and v > 1]


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


def test_split_one_synth_bass_and_chords_on_one_output_then_a_layer():
    # Seed 000's split on one multitimbral synth: below C3 the bass part (channel 1, dry), C3 and
    # up the chords (channel 2, with the mod wheel); button 2 layers both parts, and the switch
    # ends the held chord note on its own channel and centres the controllers it left there.
    out = run("split-one-synth.json", {"in1": [
        (0, [0x90, 40, 100]), (2, [0x90, 64, 90]), (4, [0xB0, 1, 70]), (6, [0x80, 40, 0]),
        (300, [0x90, 50, 100]), (302, [0x80, 50, 0]), (304, [0x80, 64, 0])]},
        events=[(100, "press", "button2"), (150, "release", "button2")])
    assert out["out1"] == [
        bytes([0x90, 40, 100]), bytes([0x91, 64, 90]), bytes([0xB1, 1, 70]), bytes([0x80, 40, 0]),
        bytes([0x81, 64, 0]), bytes([0xE1, 0, 0x40]), bytes([0xB1, 1, 0]), bytes([0xB1, 64, 0]),  # the switch
        bytes([0x90, 50, 100]), bytes([0x91, 62, 70]), bytes([0x80, 50, 0]), bytes([0x81, 62, 0]),
        bytes([0x80, 64, 0]), bytes([0x81, 76, 0])]  # the key let go after the switch: as the layer sends it
