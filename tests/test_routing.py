"""Routing a musician needs (issue 16, config format 2), through the simulator contract: route
controllers, cc_map, notes ranges (splits and layers), remap "follow:inN", preset on_enter and
preset_select, port names, clock by the clock section, and no stuck controllers on a switch or
an input loss. The properties (no stuck controller after random switches; follow always
targets the last note's channel) run on the real Box (tests/merge_rig.py) under hypothesis."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_tools import fwimport, midiwire
from host_tools.sim import runner
from tests.merge_rig import Rig

config = fwimport.firmware_module("config")

MS = 1_000_000
CENTRE = (bytes([0xE0, 0, 0x40]), bytes([0xB0, 1, 0]), bytes([0xB0, 64, 0]))


def v2(presets, **top):
    return json.dumps(dict({"version": 2, "presets": presets}, **top))


def run(text, inputs, events=(), until_ms=None):
    result = runner.simulate(text, inputs={p: [(int(t * MS), bytes(b)) for t, b in lines] for p, lines in inputs.items()},
                             events=[(int(t * MS), a, b) for t, a, b in events], until_ms=until_ms)
    assert result.config_errors == [], result.config_errors
    return {port: [m.data for m in midiwire.decode(timed)[0]] for port, timed in result.outputs.items()}


def press(button, at):
    return [(at, "press", button), (at + 50, "release", button)]


def with_channel(msgs, ch):
    return [bytes([m[0] | ch]) + m[1:] for m in msgs]


# -- filters -----------------------------------------------------------------------------------


def test_controllers_pass_only_the_listed_numbers_and_leave_the_rest_of_the_route_alone():
    text = v2([{"routes": [{"from": "in1", "to": "out1", "controllers": [1, 74]}]}])
    out = run(text, {"in1": [(0, [0xB0, 1, 10]), (2, [0xB0, 7, 99]), (4, [0xB0, 74, 20]), (6, [0xB0, 64, 127]),
                             (8, [0x90, 60, 100]), (10, [0xE0, 0, 0x50]), (12, [0xB0, 64, 0])]})
    assert out["out1"] == [bytes([0xB0, 1, 10]), bytes([0xB0, 74, 20]), bytes([0x90, 60, 100]),
                           bytes([0xE0, 0, 0x50])]


def test_cc_map_moves_a_controller_to_another_number():
    text = v2([{"routes": [{"from": "in1", "to": "out1", "cc_map": {"1": 74, "74": 1}}]}])
    out = run(text, {"in1": [(0, [0xB0, 1, 10]), (2, [0xB0, 74, 20]), (4, [0xB0, 7, 30])]})
    assert out["out1"] == [bytes([0xB0, 74, 10]), bytes([0xB0, 1, 20]), bytes([0xB0, 7, 30])]


def test_controllers_and_cc_map_together_filter_by_the_number_that_arrives():
    text = v2([{"routes": [{"from": "in1", "to": "out1", "controllers": [1], "cc_map": {"1": 11, "7": 12}}]}])
    out = run(text, {"in1": [(0, [0xB0, 1, 10]), (2, [0xB0, 7, 20]), (4, [0xB0, 11, 30])]})
    assert out["out1"] == [bytes([0xB0, 11, 10])]


def test_a_keyboard_split_and_a_layer():
    # Lower half: bass on out1 (channel 2, an octave down); upper half: chords on out2
    # (channel 3); the whole keyboard layered on out3 unchanged.
    text = v2([{"routes": [
        {"from": "in1", "to": "out1", "notes": [0, 59], "transpose": -12, "channel": 2},
        {"from": "in1", "to": "out2", "notes": [60, 127], "channel": 3},
        {"from": "in1", "to": "out3", "kinds": ["notes", "poly_pressure"]},
    ]}])
    out = run(text, {"in1": [(0, [0x90, 40, 100]), (2, [0x90, 64, 90]), (4, [0xA0, 40, 50]), (6, [0xA0, 64, 60]),
                             (8, [0x80, 40, 0]), (10, [0x80, 64, 0]), (12, [0xB0, 1, 5])]})
    assert out["out1"] == [bytes([0x91, 28, 100]), bytes([0xA1, 28, 50]), bytes([0x81, 28, 0]), bytes([0xB1, 1, 5])]
    assert out["out2"] == [bytes([0x92, 64, 90]), bytes([0xA2, 64, 60]), bytes([0x82, 64, 0]), bytes([0xB2, 1, 5])]
    assert out["out3"] == [bytes([0x90, 40, 100]), bytes([0x90, 64, 90]), bytes([0xA0, 40, 50]), bytes([0xA0, 64, 60]),
                           bytes([0x80, 40, 0]), bytes([0x80, 64, 0])]


def test_a_split_note_held_across_a_switch_ends_on_its_own_output_only():
    text = v2([{"routes": [{"from": "in1", "to": "out1", "notes": [0, 59]},
                           {"from": "in1", "to": "out2", "notes": [60, 127]}]},
               {"routes": []}])
    out = run(text, {"in1": [(0, [0x90, 40, 100]), (2, [0x90, 70, 100])]}, events=press("button2", 100))
    assert out["out1"] == [bytes([0x90, 40, 100]), bytes([0x80, 40, 0])]
    assert out["out2"] == [bytes([0x90, 70, 100]), bytes([0x80, 70, 0])]


# A keyboard split onto one multitimbral synth (seed 000: lower split = bass, upper = chords),
# and a layer: the same keys on two channels of one output.
SPLIT_ONE_SYNTH = [
    {"from": "in1", "to": "out1", "notes": [0, 59], "channel": 1, "kinds": ["notes"]},
    {"from": "in1", "to": "out1", "notes": [60, 127], "channel": 2},
]
LAYER = [
    {"from": "in1", "to": "out1", "channel": 1, "kinds": ["notes", "poly_pressure"]},
    {"from": "in1", "to": "out1", "channel": 2, "transpose": 12, "velocity": {"scale": 50}},
]


def test_a_keyboard_split_onto_one_output_sends_each_range_on_its_channel():
    out = run(v2([{"routes": SPLIT_ONE_SYNTH}]), {"in1": [
        (0, [0x90, 40, 100]), (2, [0x90, 64, 90]), (4, [0xB0, 1, 5]), (6, [0x80, 40, 0]), (8, [0x80, 64, 0]),
        (10, [0xE0, 0, 0x50])]})
    # The bass route carries notes only: the mod wheel and bend leave once, on the chords' channel.
    assert out["out1"] == [bytes([0x90, 40, 100]), bytes([0x91, 64, 90]), bytes([0xB1, 1, 5]), bytes([0x80, 40, 0]),
                           bytes([0x81, 64, 0]), bytes([0xE1, 0, 0x50])]


def test_a_layer_on_one_output_sends_each_note_on_both_channels_and_each_off_twice():
    out = run(v2([{"routes": LAYER}]), {"in1": [
        (0, [0x93, 60, 100]), (2, [0xA3, 60, 30]), (4, [0xB3, 7, 99]), (6, [0x93, 60, 0]), (8, [0xF6])]})
    assert out["out1"] == [bytes([0x90, 60, 100]), bytes([0x91, 72, 50]), bytes([0xA0, 60, 30]), bytes([0xA1, 72, 30]),
                           bytes([0xB1, 7, 99]), bytes([0x90, 60, 0]), bytes([0x91, 72, 0]),
                           bytes([0xF6])]  # a system message leaves once, as it came


def test_a_switch_ends_both_notes_of_a_layer_and_the_split_notes_on_their_channels():
    text = v2([{"routes": LAYER}, {"routes": SPLIT_ONE_SYNTH}, {"routes": []}])
    out = run(text, {"in1": [(0, [0x90, 40, 100]), (250, [0x90, 40, 100]), (252, [0x90, 70, 100])]},
              events=press("button2", 100) + press("button3", 400))
    assert out["out1"] == [bytes([0x90, 40, 100]), bytes([0x91, 52, 50]),  # layer
                           bytes([0x80, 40, 0]), bytes([0x81, 52, 0]),  # the switch to the split ends both
                           bytes([0x90, 40, 100]), bytes([0x91, 70, 100]),  # split: bass ch1, chords ch2
                           bytes([0x80, 40, 0]), bytes([0x81, 70, 0])]  # the switch to nothing ends both


def test_routes_sharing_an_input_and_an_output_must_all_transform_and_be_at_most_four():
    ok = {"version": 2, "presets": [{"routes": SPLIT_ONE_SYNTH + [{"from": "in1", "to": "out1", "transpose": 7}]}]}
    assert config.check(ok)[1] == []
    plain = {"version": 2, "presets": [{"routes": [{"from": "in1", "to": "out1", "channel": 2},
                                                   {"from": ["in1", "in2"], "to": "out1"}]}]}
    assert config.check(plain)[1] == [
        "presets[0].routes[0]: transforms in1 -> out1, which routes[1] also joins unchanged; a route with channel, "
        "remap, transpose, velocity, controllers, cc_map or notes may share an input and an output only with other "
        "such routes (a split or a layer)"]
    five = {"version": 2, "presets": [{"routes": [{"from": "in1", "to": "all", "transpose": t} for t in range(1, 6)]}]}
    assert config.check(five)[1] == [
        "presets[0].routes[4]: transforms in1 -> out1, which 4 routes with a transform already join; at most 4 may "
        "share an input and an output"]


SPLIT_AND_LAYER = {"version": 2, "presets": [
    {"routes": SPLIT_ONE_SYNTH + [dict(r, to="out2") for r in LAYER]},
    {"routes": [{"from": "in1", "to": "out1", "channel": 3, "notes": [24, 127], "transpose": -12},
                {"from": "in1", "to": "out1", "channel": 4, "velocity": {"offset": 20}},
                {"from": "in1", "to": "out1", "notes": [60, 127], "channel": 5, "kinds": ["notes"]},
                {"from": "in1", "to": "out2"}]},
    {"routes": [{"from": "in1", "to": ["out1", "out2"]}]},
    {"routes": []},
]}
NOTE_STEPS = st.one_of(
    st.tuples(st.just("on"), st.integers(0, 1), st.integers(20, 100), st.integers(1, 127)),
    st.tuples(st.just("off"), st.integers(0, 1), st.integers(20, 100), st.sampled_from([0, 64])),
    st.tuples(st.just("pedal"), st.integers(0, 1), st.just(64), st.sampled_from([0, 127])),
    st.tuples(st.just("switch"), st.integers(0, 3), st.just(0), st.just(0)),
    st.tuples(st.just("wait"), st.integers(1, 400), st.just(0), st.just(0)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(NOTE_STEPS, max_size=40))
def test_every_copy_of_a_split_or_layered_note_gets_its_off_on_its_channel(steps):
    """Random notes and pedals through splits and layers onto one output, with preset switches
    at any moment (mid-note, mid-queue): when the player has let go of everything, no note and
    no pedal hangs on any channel of any output, and the box owes nothing (what it counted owed
    is what left)."""
    from tests.merge_model import decode, hung_notes

    rig = Rig(SPLIT_AND_LAYER)
    held = set()
    pedal = set()
    for kind, a, b, c in steps:
        if kind == "switch":
            rig.box.switch_preset(a)
        elif kind == "wait":
            rig.step(a)
        elif kind == "pedal":
            (pedal.add if c else pedal.discard)(a)
            rig.inputs[0].queue(bytes([0xB0 | a, 64, c]))
        elif kind == "on" and (a, b) not in held:
            held.add((a, b))
            rig.inputs[0].queue(bytes([0x90 | a, b, c]))
        elif kind == "off" and (a, b) in held:
            held.discard((a, b))
            rig.inputs[0].queue(bytes([0x80 | a, b, c]) if c else bytes([0x90 | a, b, 0]))
    for a, b in sorted(held):
        rig.inputs[0].queue(bytes([0x80 | a, b, 0x40]))
    for a in sorted(pedal):
        rig.inputs[0].queue(bytes([0xB0 | a, 64, 0]))
    rig.settle()
    for o, out in enumerate(rig.outputs):
        msgs, problems = decode(bytes(out.data))
        assert problems == [], (o, problems)
        assert hung_notes(msgs) == ([], []), (o, [m.hex() for m in msgs])
    assert list(rig.m.owed) == [0] * len(rig.m.owed)
    assert sum(rig.m.dropped) == 0


# -- follow ------------------------------------------------------------------------------------


SEED_002 = v2([{"routes": [
    {"from": "in1", "to": "out1", "kinds": ["notes"], "channel": 16},
    {"from": "in1", "to": ["out2", "out3"], "kinds": ["pitch_bend", "control_change"], "controllers": [1],
     "remap": {"pitch_bend": "follow:in2", "control_change": "follow:in2"}},
    {"from": "in2", "to": ["out2", "out3"]},
]}])


def test_follow_sends_bend_and_mod_wheel_on_the_channel_the_followed_input_last_played():
    out = run(SEED_002, {
        "in1": [(0, [0xE0, 0, 0x50]), (10, [0xE0, 0, 0x60]), (11, [0xB0, 1, 90]), (12, [0xB0, 64, 127]),
                (30, [0xE0, 0, 0x70])],
        "in2": [(5, [0x92, 48, 100]), (6, [0x82, 48, 0]), (20, [0x94, 50, 100])],
    })
    # Before in2's first note: unchanged; the note moves it to channel 3, and channel 1, left
    # bent, is centred. The sustain pedal is not in "controllers". in2 moves to channel 5 while
    # bend, mod wheel and pedal are held: channel 3 is centred (mod wheel and sustain 0), and
    # the bend follows to channel 5.
    assert out["out2"] == [bytes([0xE0, 0, 0x50]), bytes([0xE0, 0, 0x40]), bytes([0x92, 48, 100]),
                           bytes([0x82, 48, 0]), bytes([0xE2, 0, 0x60]), bytes([0xB2, 1, 90]),
                           bytes([0xE2, 0, 0x40]), bytes([0xB2, 1, 0]), bytes([0xB2, 64, 0]),
                           bytes([0x94, 50, 100]), bytes([0xE4, 0, 0x70])]
    assert out["out3"] == out["out2"]
    assert out["out1"] == []


def test_follow_is_refused_for_notes_and_needs_an_input():
    _, errors = config.check({"version": 2, "presets": [{"routes": [
        {"from": "in1", "to": "out1", "remap": {"notes": "follow:in2", "pitch_bend": "follow:out1"}}]}]})
    assert any("notes cannot follow" in e for e in errors), errors
    assert any(e.startswith("presets[0].routes[0].remap.pitch_bend: unknown port 'out1' (ports are in1,")
               for e in errors), errors


# -- presets: on_enter, preset_select ----------------------------------------------------------


ON_ENTER = [
    {"name": "A", "routes": [{"from": "in1", "to": "out1"}],
     "on_enter": [{"to": "out3", "channel": 5, "program": 12, "bank": 3},
                  {"to": "out4", "channel": 1, "program": 0, "bank": [1, 2]}]},
    {"name": "B", "routes": [{"from": "in1", "to": "out2"}],
     "on_enter": [{"to": "out3", "channel": 5, "program": 13}]},
    {"name": "C", "routes": [{"from": "in1", "to": "out2"}]},
]


def test_on_enter_at_power_up_and_on_a_button():
    out = run(v2(ON_ENTER), {}, events=press("button2", 100) + press("button3", 300) + press("button1", 500),
              until_ms=700)
    bank_a = [bytes([0xB4, 0, 3]), bytes([0xC4, 12])]
    assert out["out3"] == bank_a + [bytes([0xC4, 13])] + bank_a
    assert out["out4"] == [bytes([0xB0, 0, 1]), bytes([0xB0, 32, 2]), bytes([0xC0, 0])] * 2
    assert out["out1"] == out["out2"] == []


def test_preset_select_by_program_change_is_not_forwarded_and_sends_on_enter():
    text = v2(ON_ENTER, preset_select={"from": "in1", "channel": 16})
    out = run(text, {"in1": [(0, [0x90, 60, 100]), (5, [0xCF, 1]), (10, [0x90, 62, 100]), (15, [0xCF, 9]),
                             (20, [0xC0, 7]), (25, [0xCF, 0]), (30, [0x90, 64, 100])]})
    # Power-up: preset A. Program 1 on channel 16: preset B (note 60 ends on out1). Program 9:
    # no such preset, ignored. A program change on another channel is forwarded. Program 0: A.
    assert out["out1"] == [bytes([0x90, 60, 100]), bytes([0x80, 60, 0]), bytes([0x90, 64, 100])]
    assert out["out2"] == [bytes([0x90, 62, 100]), bytes([0xC0, 7]), bytes([0x80, 62, 0])]
    assert out["out3"] == [bytes([0xB4, 0, 3]), bytes([0xC4, 12]), bytes([0xC4, 13]), bytes([0xB4, 0, 3]),
                           bytes([0xC4, 12])]
    assert not any(m[0] == 0xCF for port in out.values() for m in port)


def test_preset_select_after_a_power_cycle_starts_in_the_selected_preset():
    text = v2(ON_ENTER, preset_select={"from": "in1", "channel": 16})
    first = runner.simulate(text, inputs={"in1": [(0, bytes([0xCF, 2]))]}, until_ms=3000)
    again = runner.simulate(text, nvm=first.nvm, until_ms=10)
    assert "preset 3" in first.console
    assert "Thruway ready: preset 3" in again.console


# -- names ---------------------------------------------------------------------------------------


NAMED = {"version": 2, "names": {"in1": "KeyStep", "in2": "Digitakt", "out1": "Digitakt in", "out3": "JU-06A"},
         "presets": [{"routes": [{"from": "KeyStep", "to": ["JU-06A", "out2"], "channel": 5},
                                 {"from": "Digitakt", "to": "all"}],
                      "on_enter": [{"to": "JU-06A", "channel": 5, "program": 3}],
                      "clock": {"master": "Digitakt", "send": {"Digitakt in": False}, "divide": {"JU-06A": 2}}}],
         "outputs": {"Digitakt in": {"running_status": False}}}


def test_names_stand_for_their_ports_everywhere():
    settings_, errors = config.check(NAMED)
    assert errors == []
    (route, back) = settings_["presets"][0]["routes"]
    assert route["from"] == [0] and route["to"] == [2, 1]
    clock = settings_["presets"][0]["clock"]
    assert clock["master"] == "in2" and clock["send"]["out1"] is False and clock["divide"]["out3"] == 2
    assert settings_["outputs"]["out1"]["running_status"] is False
    assert settings_["names"] == {"in1": "KeyStep", "in2": "Digitakt", "out1": "Digitakt in", "out3": "JU-06A"}
    out = run(json.dumps(NAMED), {"in1": [(0, [0x90, 60, 100])], "in2": [(1, [0xFA]), (2, [0xF8]), (3, [0xF8])]})
    assert out["out3"][0] == bytes([0xC4, 3])  # on_enter, at power-up
    assert [m for m in out["out3"] if m[0] < 0xF0] == [bytes([0xC4, 3]), bytes([0x94, 60, 100])]
    assert [m for m in out["out3"] if m[0] >= 0xF0] == [bytes([0xFA]), bytes([0xF8])]  # one tick in 2
    assert out["out1"] == []  # clock.send off by name; the KeyStep does not go there


def test_names_are_checked():
    _, errors = config.check({"version": 2, "names": {"in1": "out9", "in2": "Keys", "in3": "Keys", "cv": "CV"},
                              "presets": [{"routes": [{"from": "Kys", "to": "out9"}]}]})
    assert "names.in1: 'out9' looks like a port; a name must not (ports, all, cv, auto, internal, clock_in)" in errors
    assert "names.in3: 'Keys' already names in2" in errors
    assert any(e.startswith("names.cv: unknown port") for e in errors), errors
    assert ("presets[0].routes[0].from: 'Kys' is neither a port nor a name from \"names\" "
            "(ports are in1, in2, in3, in4, usb, usbh)") in errors
    assert any(e.startswith("presets[0].routes[0].to: unknown port 'out9'") for e in errors), errors


# -- clock by the clock section ------------------------------------------------------------------


CLOCKED = [{"routes": [{"from": "in1", "to": "out1", "kinds": ["notes"]}, {"from": "in2", "to": "out2", "kinds": ["notes"]}],
            "clock": {"master": "in2", "send": {"out3": False}, "divide": {"out4": 2}}}]
CLOCK_IN = {"in2": [(0, [0xFA]), (1, [0xF8]), (2, [0xF8]), (3, [0xF8]), (4, [0xFC])],
            "in1": [(0, [0xF8]), (5, [0x90, 60, 100])]}


def test_version_2_clock_flows_where_the_clock_section_says_whatever_the_routes_carry():
    out = run(v2(CLOCKED), CLOCK_IN)
    ticks = [bytes([0xFA]), bytes([0xF8]), bytes([0xF8]), bytes([0xF8]), bytes([0xFC])]
    assert out["out2"] == ticks and out["usb"] == ticks
    assert out["out1"] == ticks + [bytes([0x90, 60, 100])]  # the master's clock, not in1's
    assert out["out3"] == []  # send off
    assert out["out4"] == [bytes([0xFA]), bytes([0xF8]), bytes([0xF8]), bytes([0xFC])]  # one tick in 2


def test_version_1_clock_still_needs_a_route():
    out = run(json.dumps({"version": 1, "presets": CLOCKED}), CLOCK_IN)
    assert out["out1"] == [bytes([0x90, 60, 100])] and out["out2"] == out["usb"] == []


def test_a_usb_master_is_not_echoed_to_usb():
    out = run(v2([{"routes": [], "clock": {"master": "usb"}}]), {"usb": [(0, [0xFA]), (1, [0xF8])]})
    assert out["usb"] == [] and out["out1"] == [bytes([0xFA]), bytes([0xF8])]


# -- no stuck controllers --------------------------------------------------------------------


HELD = [(0, [0x93, 60, 100]), (2, [0xE3, 0, 0x60]), (4, [0xB3, 1, 100]), (6, [0xB3, 64, 127])]


def test_a_switch_centres_the_bend_mod_wheel_and_sustain_it_leaves_held():
    text = v2([{"routes": [{"from": "in1", "to": ["out1", "out2"]}]},
               {"routes": [{"from": "in1", "to": "out2", "kinds": ["notes", "pitch_bend"]}]}])
    out = run(text, {"in1": HELD + [(300, [0xE3, 0, 0x50])]}, events=press("button2", 100))
    held = [bytes(m) for _, m in HELD]
    # out1 lost everything: note-off, centred bend, mod wheel 0, sustain 0.
    assert out["out1"][:4] == held and sorted(out["out1"][4:]) == sorted([bytes([0x83, 60, 0])] + with_channel(CENTRE, 3))
    # out2 keeps notes and bend, loses controllers: the channel is reset, the note plays on.
    assert out["out2"][:4] == held
    assert sorted(out["out2"][4:-1]) == sorted(with_channel(CENTRE, 3)) and out["out2"][-1] == bytes([0xE3, 0, 0x50])


def test_a_switch_resets_through_the_old_channel_and_leaves_centred_channels_alone():
    text = v2([{"routes": [{"from": "in1", "to": "out1", "channel": 6}]}, {"routes": []}])
    out = run(text, {"in1": [(0, [0xE0, 0, 0x60]), (1, [0xE1, 0, 0x60]), (2, [0xE1, 0, 0x40]), (3, [0xB2, 1, 0])]},
              events=press("button2", 100))
    assert out["out1"][4:] == with_channel(CENTRE, 5)


def test_input_loss_centres_what_the_input_left_held():
    text = v2([{"routes": [{"from": "in1", "to": "out1"}]}])
    out = run(text, {"in1": HELD + [(10, [0xFE])]}, until_ms=600)
    assert out["out1"][:4] == [bytes(m) for _, m in HELD]
    assert sorted(out["out1"][4:]) == sorted([bytes([0x83, 60, 0])] + with_channel(CENTRE, 3))


# -- format versions -------------------------------------------------------------------------------


def test_version_1_files_get_a_clear_message_for_version_2_keys():
    _, errors = config.check({"version": 1, "presets": [{"routes": [{"from": "in1", "to": "out1", "notes": [0, 59]}],
                                                         "on_enter": []}]})
    assert ('presets[0].routes[0].notes: new in config format 2: set "version": 2 (docs/config.md, "Version 2")'
            in errors), errors
    assert any(e.startswith("presets[0].on_enter: new in config format 2") for e in errors), errors
    _, errors = config.check({"version": 3})
    assert errors == ["version: 3 is not supported (this firmware reads versions 1 and 2)"]


# -- properties on the real Box ----------------------------------------------------------------


SWITCHED = {"version": 2, "presets": [
    {"routes": [{"from": "in1", "to": ["out1", "out2"]}]},
    {"routes": [{"from": "in1", "to": "out1", "channel": 4}, {"from": "in1", "to": "out2", "kinds": ["notes"]}]},
    {"routes": [{"from": "in1", "to": "out2", "kinds": ["pitch_bend", "control_change"], "controllers": [1, 64],
                 "remap": {"pitch_bend": "follow:in2", "control_change": "follow:in2"}},
                {"from": "in2", "to": "out3"}]},
    {"routes": [{"from": "in1", "to": ["out1", "out2"], "cc_map": {"1": 64, "64": 1}}]},
    {"routes": []},
]}
PLAYED = st.one_of(
    st.tuples(st.just("in1"), st.sampled_from([0xE0, 0xE1]), st.integers(0, 127), st.integers(0, 127)),
    st.tuples(st.just("in1"), st.sampled_from([0xB0, 0xB1]), st.sampled_from([1, 64, 7]), st.integers(0, 127)),
    st.tuples(st.just("in1"), st.just(0x90), st.integers(36, 40), st.integers(0, 127)),
    st.tuples(st.just("in2"), st.sampled_from([0x92, 0x95, 0x9A]), st.integers(36, 40), st.integers(1, 127)),
    st.tuples(st.just("switch"), st.integers(0, 4), st.just(0), st.just(0)),
)


def _play(rig, steps):
    for port, a, b, c in steps:
        if port == "switch":
            rig.box.switch_preset(a)
        else:
            rig.inputs[0 if port == "in1" else 1].queue(bytes([a, b, c]))
        rig.settle()


def _last_values(data):
    # Per (status, controller): the last value an output stream left, as (data1, data2).
    last = {}
    msgs, problems = midiwire.decode([(0, b) for b in data])
    assert not problems
    for m in msgs:
        m = m.data
        hi = m[0] & 0xF0
        if hi == 0xE0:
            last[(m[0], None)] = (m[1], m[2])
        elif hi == 0xB0 and m[1] in (1, 64):
            last[(m[0], m[1])] = m[2]
    return last


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PLAYED, max_size=25))
def test_no_controller_stays_held_after_random_switches(steps):
    rig = Rig(SWITCHED)
    _play(rig, steps + [("switch", 4, 0, 0)])  # end in the preset that routes nothing
    for o in range(5):
        for (status, cc), value in _last_values(rig.outputs[o].data).items():
            if cc is None:
                assert value == (0, 0x40), (o, hex(status), value)
            else:
                assert value == 0 if cc == 1 else value < 64, (o, hex(status), cc, value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PLAYED.filter(lambda s: s[0] != "switch"), max_size=30))
def test_follow_always_targets_the_last_note_channel(steps):
    rig = Rig(SWITCHED)
    rig.box.select_preset(2)  # all of it before the first step
    last = None  # channel of in2's last note-on
    seen = 0
    for port, a, b, c in steps:
        _play(rig, [(port, a, b, c)])
        msgs = [m.data for m in midiwire.decode([(0, x) for x in rig.outputs[1].data])[0]]
        sent = msgs[seen:]
        seen = len(msgs)
        if port == "in2":
            # A move leaves only centred values on the old channel (before the first note: on
            # the channels the bends had, unchanged); nothing else is sent.
            assert all((last is None or m[0] & 0x0F == last) and m[1:] in (b"\x00\x40", b"\x01\x00", b"\x40\x00")
                       for m in sent), sent
            last = a & 0x0F
        elif (a & 0xF0) == 0xE0 or (a & 0xF0) == 0xB0 and b in (1, 64):
            want = last if last is not None else a & 0x0F
            assert [m[0] for m in sent] == [(a & 0xF0) | want], (sent, last)
        else:
            assert sent == []
