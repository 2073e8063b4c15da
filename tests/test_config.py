"""config.json: the firmware's checker, the JSON Schema and docs/config.md say the same thing.

- the corpus (tests/configs): valid files pass both checkers, invalid files fail both with the
  listed messages (or, for the rules joining several fields, the firmware alone);
- generated configs (hypothesis): the two checkers agree, and their errors point at the same
  places;
- every default documented in docs/config.md is what the checker fills in, and what the schema
  annotates; every documented key is in the schema and the reverse;
- each kind of invalid file gives its message and the safe fallback; file-level limits;
- the checked forms the merger, router, clock and CV engine read;
- the same checker on the MicroPython VM gives the same verdicts, and its settings fit the heap.
"""

import json
import math
import re
from pathlib import Path

import jsonschema
import mpvm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_tools import fwimport

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parent / "configs"
EXAMPLES = ROOT / "examples" / "configs"
config = fwimport.firmware_module("config")
midi = fwimport.firmware_module("midi")
SCHEMA = json.loads((ROOT / "config.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
EXPECTED = json.loads((CORPUS / "expected_errors.json").read_text())
VALID = sorted((CORPUS / "valid").glob("*.json"))
INVALID = sorted((CORPUS / "invalid").glob("*.json"))
CROSS_FIELD = ("also joins unchanged", "may share an input and an output", "points must ascend", "routes in all presets", "is above the high note",
               # names (version 2): whether a name is given, and for which port, is another field
               "neither a port nor a name", "is the name of", "already names",
               'new in config format 2: set "version": 2', "is above high")


def schema_errors(doc):
    return sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))


def key_path(parts):
    """jsonschema's path in the firmware's notation (presets[0].routes[1].to)."""
    out = ""
    for part in parts:
        out += "[%d]" % part if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def firmware_path(message):
    path = message.split(": ", 1)[0]
    return "" if path == "(top level)" else path


def related(a, b):
    """One key path is the other or inside it (a parent's error covers its children)."""
    return a == b or not a or not b or b.startswith(a + ".") or b.startswith(a + "[") or \
        a.startswith(b + ".") or a.startswith(b + "[")


def check_text(text):
    return config.load(text)


# ---------------------------------------------------------------------------------------------
# The corpus


def test_corpus_is_complete():
    assert len(VALID) >= 10 and len(INVALID) >= 70
    assert sorted(EXPECTED) == sorted(p.name for p in INVALID), "every invalid file needs its expected errors"


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_corpus_passes_both_checkers(path):
    doc = json.loads(path.read_text())
    assert [e.message for e in schema_errors(doc)] == []
    settings_, errors = check_text(path.read_text())
    assert errors == []
    assert settings_["presets"], path


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_corpus_fails_with_its_messages(path):
    text = path.read_text()
    expect = list(EXPECTED[path.name])
    firmware_only = expect[:1] == ["firmware only"]
    if firmware_only:
        expect = expect[1:]
    settings_, errors = check_text(text)
    for fragment in expect:
        assert any(fragment in e for e in errors), (fragment, errors)
    assert settings_ == config.default_settings()  # the safe fallback
    doc = json.loads(text)
    found = schema_errors(doc)
    if firmware_only:
        assert found == [], [e.message for e in found]
        assert all(any(c in e for c in CROSS_FIELD) for e in errors), errors
    else:
        assert found, "the schema accepts %s" % path.name
        if errors[-1].startswith("... and "):
            return  # a capped report does not list every place
        for e in found:  # every schema error has a firmware error at or around its place
            assert any(related(key_path(e.absolute_path), firmware_path(m)) for m in errors), (e.message, errors)


@pytest.mark.parametrize(
    "path", sorted(EXAMPLES.glob("*.json")) + [ROOT / "config.json"], ids=lambda p: p.name
)
def test_examples_and_the_default_config_pass_both_checkers(path):
    text = path.read_text()
    assert [e.message for e in schema_errors(json.loads(text))] == []
    settings_, errors = check_text(text)
    assert errors == []
    assert len(text.encode()) <= config.MAX_CONFIG_BYTES
    if path.name == "config.json":
        # The box out of the box: one preset merging everything, active sensing not forwarded.
        (preset,) = settings_["presets"]
        (route,) = preset["routes"]
        assert route["from"] == [0, 1, 2, 3, 4, 5] and route["to"] == [0, 1, 2, 3, 4, 5, 6]
        assert route["all_to"] is True and route["kinds"] == config.DEFAULT_KINDS
        assert not route["kinds"] & midi.KIND_ACTIVE_SENSING


# ---------------------------------------------------------------------------------------------
# docs/config.md: every default, every key


def doc_tables():
    """{heading: [(key, type, default)]} for every `| key | type | default | meaning |` table."""
    tables = {}
    heading = None
    for line in (ROOT / "docs" / "config.md").read_text().splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("| `") and heading is not None:
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) == 4:  # a key table (the file-messages table has two columns)
                tables.setdefault(heading, []).append((cells[0].strip("`"), cells[1], cells[2]))
    return tables


def literal(default):
    """A default written as `json`: its value; anything else: None."""
    m = re.fullmatch(r"`(.*)`", default)
    return json.loads(m.group(1)) if m else None


SECTIONS = {  # docs heading -> (schema properties, checked object(s) under the defaults)
    "Top level": (SCHEMA["properties"], None),
    "`outputs.<port>` (`out1`..`out4`, `usb`, `usbh`)": (SCHEMA["$defs"]["output"]["properties"], "outputs"),
    "`calibration.<jack>` (`cv1`..`cv4`, `mod1`..`mod4`)": (SCHEMA["$defs"]["calibration"]["oneOf"][0]["properties"], "calibration"),
    "`panel`": (SCHEMA["$defs"]["panel"]["properties"], "panel"),
    "Preset (`presets[N]`)": (SCHEMA["$defs"]["preset"]["properties"], "preset"),
    "Route (`presets[N].routes[M]`)": (SCHEMA["$defs"]["route"]["properties"], "route"),
    "`velocity`": (SCHEMA["$defs"]["route"]["properties"]["velocity"]["properties"], None),
    "`clock` (`presets[N].clock`)": (SCHEMA["$defs"]["clock"]["properties"], "clock"),
    "`clock.analog`": (SCHEMA["$defs"]["clock"]["properties"]["analog"]["properties"], "analog"),
    "`cv` (`presets[N].cv`)": (SCHEMA["$defs"]["cv"]["properties"], "cv"),
    "`cv.voices[N]`": (SCHEMA["$defs"]["voice"]["properties"], "voices"),
    "`cv.poly`": (SCHEMA["$defs"]["cv"]["properties"]["poly"]["properties"], "poly"),
    "`cv.drums`": (SCHEMA["$defs"]["cv"]["properties"]["drums"]["properties"], "drums"),
}


def checked_defaults():
    """Where each section's defaults land, for a config that sets nothing."""
    s, errors = config.check({"presets": [{"routes": [{"from": "in1", "to": "out1"}]}]})
    assert errors == []
    preset = s["presets"][0]
    return {
        "outputs": [s["outputs"][p] for p in ("out1", "out2", "out3", "out4", "usb")],
        "calibration": [s["calibration"][j] for j in config.JACKS],
        "panel": [s["panel"]],
        "preset": [preset],
        "route": [preset["routes"][0]],
        "clock": [preset["clock"]],
        "analog": [preset["clock"]["analog"]],
        "cv": [preset["cv"]],
        "voices": preset["cv"]["voices"],
        "poly": [preset["cv"]["poly"]],
        "drums": [preset["cv"]["drums"]],
    }


def test_docs_sections_are_all_known():
    assert set(doc_tables()) == set(SECTIONS)


def test_every_documented_key_is_in_the_schema_and_the_reverse():
    for heading, rows in doc_tables().items():
        props, _ = SECTIONS[heading]
        documented = {key for key, _, _ in rows} - {"comment"}
        assert documented == set(props) - {"comment"}, heading
        assert heading != "Top level" and heading != "`calibration.<jack>` (`cv1`..`cv4`, `mod1`..`mod4`)" \
            or "comment" in props


def test_every_literal_default_of_the_docs_is_applied_and_annotated():
    where = checked_defaults()
    seen = 0
    for heading, rows in doc_tables().items():
        props, target = SECTIONS[heading]
        for key, _, default in rows:
            value = literal(default)
            if value is None:
                assert "default" not in props[key] or heading == "Top level" and key == "presets", (heading, key)
                continue
            assert props[key].get("default") == value, (heading, key, "schema default")
            # Route keys whose checked form is not the written one are in the next test.
            if target is not None and (target, key) not in (("preset", "routes"), ("route", "channels")):
                for obj in where[target]:
                    got = obj[key]
                    assert got == value and type(got) is type(value), (heading, key, got, value)
                    seen += 1
    assert seen >= 40


def test_defaults_written_in_words():
    """The documented defaults that are not a JSON literal, one by one."""
    s, _ = config.check({"presets": [{}, {}]})
    p0, p1 = s["presets"]
    assert (p0["name"], p1["name"]) == ("Preset 1", "Preset 2")  # "Preset N"
    assert p0["routes"] == config.check(config.DEFAULT_CONFIG)[0]["presets"][0]["routes"]
    assert config.check({})[0]["presets"][0]["name"] == "Merge all"  # presets: one "Merge all"
    route = checked_defaults()["route"][0]
    assert route["kinds"] == midi.KIND_ALL & ~midi.KIND_ACTIVE_SENSING  # every kind but FE
    assert route["channels"] == 0xFFFF and route["remap"] == {} and route["velocity"] is None
    assert "all_to" not in route
    clock = p0["clock"]
    assert clock["send"] == {p: True for p in ("out1", "out2", "out3", "out4", "usb", "cv")}
    assert clock["divide"] == {p: 1 for p in ("out1", "out2", "out3", "out4", "usb", "cv")}
    assert [v["channel"] for v in p0["cv"]["voices"]] == [1, 2, 3, 4]  # voice N on channel N
    assert not any("notes" in v for v in p0["cv"]["voices"])  # every note: the key left out
    assert [v["channel"] for v in config.check({"presets": [{"cv": {"voices": [{"channel": 9}]}}]})[0]
            ["presets"][0]["cv"]["voices"]] == [9, 2, 3, 4]  # voices not listed keep their defaults
    assert s["calibration"]["cv1"] == {"offset": 0.0, "scale": 1.0}
    assert config.check({"calibration": {"mod1": {"scale": 1.05}}})[0]["calibration"]["mod1"] == {
        "offset": 0.0, "scale": 1.05}


def test_clock_and_cv_defaults_come_from_firmware_defaults():
    defaults = fwimport.firmware_module("defaults")
    s, _ = config.check({"presets": [{}]})
    assert s["presets"][0]["clock"] == defaults.DEFAULT_CLOCK
    assert s["presets"][0]["cv"] == defaults.DEFAULT_CV
    assert s["calibration"] == defaults.DEFAULT_CALIBRATION
    # Complete dicts: the user's keys over the defaults, the rest kept.
    s, _ = config.check({"presets": [{"clock": {"send": {"out2": False}, "analog": {"pulse_ms": 9}},
                                      "cv": {"voices": [{}, {"mod": "cc:74"}], "drums": {"channel": 11}}}]})
    p = s["presets"][0]
    assert p["clock"]["send"] == dict(defaults.DEFAULT_CLOCK["send"], out2=False)
    assert p["clock"]["analog"] == dict(defaults.DEFAULT_CLOCK["analog"], pulse_ms=9)
    assert p["clock"]["master"] == "auto" and p["clock"]["bpm"] == 120
    assert p["cv"]["voices"][1] == dict(defaults.DEFAULT_CV["voices"][1], mod="cc:74")
    assert p["cv"]["drums"] == dict(defaults.DEFAULT_CV["drums"], channel=11)
    assert defaults.DEFAULT_CLOCK["send"]["out2"] is True and defaults.DEFAULT_CV["drums"]["channel"] == 10  # not mutated


# ---------------------------------------------------------------------------------------------
# Checked forms (what the merger and router read)


def one_route(route, **preset):
    s, errors = config.check({"presets": [dict(preset, routes=[route])]})
    assert errors == [], errors
    return s["presets"][0]["routes"][0]


def test_route_forms():
    r = one_route({"from": "in2", "to": ["usb", "out1", "usb"], "kinds": ["notes", "clock"], "channels": [1, 10]})
    assert r["from"] == [1] and r["to"] == [4, 0]
    assert r["kinds"] == midi.KIND_NOTES | midi.KIND_CLOCK
    assert r["channels"] == (1 << 0) | (1 << 9)
    assert "all_to" not in r and r["remap"] == {} and r["transpose"] == 0 and r["velocity"] is None
    r = one_route({"from": "all", "to": "all", "kinds": "all", "channels": "all"})
    assert r["all_to"] is True and r["kinds"] == midi.KIND_ALL and r["channels"] == 0xFFFF


def test_channel_and_remap_merge_into_one_table():
    r = one_route({"from": "in1", "to": "out1", "channel": 5})
    assert r["remap"] == {s: 4 for s in (0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0)}
    r = one_route({"from": "in1", "to": "out1", "channel": 5, "remap": {"notes": 2, "pitch_bend": 16}})
    assert r["remap"] == {0x80: 1, 0x90: 1, 0xA0: 4, 0xB0: 4, 0xC0: 4, 0xD0: 4, 0xE0: 15}
    r = one_route({"from": "in1", "to": "out1", "remap": {"control_change": 3}})
    assert r["remap"] == {0xB0: 2}


def test_transpose_and_velocity_forms():
    r = one_route({"from": "in1", "to": "out1", "transpose": -7.0, "velocity": {"scale": 150}})
    assert r["transpose"] == -7 and type(r["transpose"]) is int
    assert r["velocity"] == (150, 0)
    assert one_route({"from": "in1", "to": "out1", "velocity": {"offset": -10}})["velocity"] == (100, -10)
    assert one_route({"from": "in1", "to": "out1", "velocity": {}})["velocity"] is None  # identity


def test_transform_exclusivity():
    def errors(routes):
        return config.check({"presets": [{"routes": routes}]})[1]

    # Disjoint pairs are fine; "all" never joins usb -> usb, so a usb -> usb transform may stay.
    assert errors([{"from": "in1", "to": "out1", "channel": 2}, {"from": "in1", "to": "out2"}]) == []
    assert errors([{"from": "all", "to": "all", "kinds": ["clock"]}, {"from": "usb", "to": "usb", "channel": 2}]) == []
    # Identity velocity is no transform.
    assert errors([{"from": "in1", "to": "out1"}, {"from": "in1", "to": "out1", "velocity": {"scale": 100}}]) == []
    # Overlap with a route that changes nothing: one message per conflicting pair of routes,
    # naming both.
    got = errors([{"from": "all", "to": "all"}, {"from": ["in1", "in2"], "to": ["out1", "out2"], "transpose": 5}])
    assert got == ["presets[0].routes[1]: transforms in1 -> out1, which routes[0] also joins unchanged; a route with "
                   "channel, remap, transpose, velocity, controllers, cc_map or notes may share an input and an output "
                   "only with other such routes (a split or a layer)"]
    got = errors([{"from": "in3", "to": "cv", "transpose": 1}, {"from": "in3", "to": "cv", "channel": 1},
                  {"from": "in3", "to": "cv"}])
    assert len(got) == 2 and "routes[0]: transforms in3 -> cv, which routes[2]" in got[0]
    assert "routes[1]: transforms in3 -> cv, which routes[2]" in got[1]
    # Routes that each transform may share a pair (a split or a layer), up to four.
    assert errors([{"from": "in3", "to": "cv", "transpose": 1}, {"from": "in3", "to": "cv", "channel": 1}]) == []


def test_checked_settings_share_what_is_identical():
    s, _ = config.check({"presets": [{"routes": [{"from": "in1", "to": "out1"}, {"from": "in1", "to": "out1",
                                                                                 "kinds": ["clock"]}]}, {}]})
    a, b = s["presets"][0]["routes"]
    assert a["from"] is b["from"] and a["to"] is b["to"]
    assert s["presets"][0]["cv"] is s["presets"][1]["cv"]  # no "cv" key: one shared default


# ---------------------------------------------------------------------------------------------
# Whole-file problems: message and the safe fallback


def assert_fallback(text, fragment):
    settings_, errors = config.load(text)
    assert settings_ == config.default_settings()
    assert any(fragment in e for e in errors), errors
    return errors


def test_missing_file():
    assert_fallback(None, "config.json: not found; using the default routing (everything merged)")


def test_not_json():
    assert_fallback('{"presets": [}', "config.json: not valid JSON: a } in line 1 closes a [")
    assert_fallback('{"presets": 1 2}', "config.json: not valid JSON")
    assert_fallback('{"presets": [{"name": Dawn}]}', "config.json: not valid JSON: Dawn in line 1 needs double quotes")
    assert_fallback('{"a": true, "b": [false, null, 1e3, -2.5E-2], "c": nul}', "nul in line 1 needs double quotes")
    assert_fallback('{"presets": [', "config.json: not valid JSON: the file ends before every { and [ is closed (cut short?)")


VALID_TEXT = '{"version": 1, "presets": [{"name": "Caf\u00e9", "routes": [{"from": "in1", "to": "out2"}]}]}'
# Files of any bytes, and what the box (and validate) says about each. One message each, in words.
ANY_BYTES = [
    (b"", "config.json is empty"),
    (b" \r\n\t\n", "config.json is empty"),
    (b"\xef\xbb\xbf", "config.json is empty"),
    (VALID_TEXT.encode("utf-16"), "config.json is UTF-16 text (it starts with a UTF-16 byte-order mark): save it as UTF-8"),
    (VALID_TEXT.encode("utf-16-be"), "config.json is not text: a NUL byte at offset 0"),
    (b'{"version": 1,\x00 "presets": []}', "config.json is not text: a NUL byte at offset 14"),
    (VALID_TEXT.encode("latin-1"), "config.json is not UTF-8 text (byte 0xE9 at offset 40): save it as UTF-8"),
    (VALID_TEXT.encode()[:41], "config.json is not UTF-8 text (byte 0xC3 at offset 40): save it as UTF-8"),  # cut in a character
    (b"\x89PNG\r\n\x1a\n" + bytes(range(200, 256)), "config.json is not UTF-8 text (byte 0x89 at offset 0)"),
    (bytes(range(1, 256)), "config.json is not UTF-8 text (byte 0x80 at offset 127): save it as UTF-8"),
    (b'{\n  "version": 1,\n  "presets": [\n    {"name": "A", "routes": []},\n  ]\n}',
     "config.json: not valid JSON: trailing comma after the last item in line 4"),
    (b'{"version": 1, "presets": [{"name": "A", "routes": [],}]}',
     "config.json: not valid JSON: trailing comma after the last item in line 1"),
    (b'{\n  // my rig\n  "version": 1\n}', 'config.json: not valid JSON: comments are not JSON (line 2); use a "comment" key'),
    (b'{"version": 1 /* one */}', 'config.json: not valid JSON: comments are not JSON (line 1); use a "comment" key'),
    (b"{'version': 1}", "config.json: not valid JSON: strings and keys need double quotes, not ' (line 1)"),
    (b'{"version": 1, "presets": [{"name": "A\n"}]}', "config.json: not valid JSON: a string is not closed in line 1"),
    (VALID_TEXT.encode()[:60], "config.json: not valid JSON: a string is not closed in line 1"),  # truncated
    (VALID_TEXT.encode()[:-3], "config.json: not valid JSON: the file ends before every { and [ is closed (cut short?)"),
    (b'{"version": 1}\n]', "config.json: not valid JSON: a ] in line 2 closes nothing"),
    (b"[" * 20000, "config.json: more than 16384 bytes, the most the box reads"),
]


@pytest.mark.parametrize("data,message", ANY_BYTES, ids=[m[:40] for _, m in ANY_BYTES])
def test_any_bytes_fall_back_with_one_message_in_words(data, message):
    errors = assert_fallback(data, message)
    assert errors == [errors[0]] and errors[0].startswith(message)


def test_a_utf8_byte_order_mark_is_accepted():
    settings_, errors = config.load(b"\xef\xbb\xbf" + VALID_TEXT.encode())
    assert errors == [] and settings_["presets"][0]["name"] == "Caf\u00e9"
    assert config.load("\ufeff" + VALID_TEXT)[1] == []  # the same, read as text
    assert config.decode(VALID_TEXT.encode()) == (VALID_TEXT, None)
    # Whitespace and strings that look like mistakes are not mistakes.
    fine = '{"comment": "// not a comment, \'quoted\', trailing ,]", "version": 1, "presets": [\n\n{"name": "x", "routes": []}]}'
    assert config.load(fine)[1] == []


def test_too_big():
    text = json.dumps({"comment": "x" * config.MAX_CONFIG_BYTES})
    assert_fallback(text, "config.json: more than 16384 bytes, the most the box reads")
    # Bytes, not characters: 6,000 three-byte characters are 18,000 bytes.
    assert_fallback(json.dumps({"comment": "\u20ac" * 6000}, ensure_ascii=False), "more than 16384 bytes")


def test_too_deep_is_refused_before_parsing(monkeypatch):
    import json as host_json

    def no_parse(*a, **k):
        raise AssertionError("parsed a file that is too deep")

    deep = "[" * 9 + "]" * 9
    monkeypatch.setattr(host_json, "loads", no_parse)
    assert_fallback(deep, "nested deeper than 8 levels")
    assert_fallback("[" * 10000, "nested deeper than 8 levels")  # no recursion
    monkeypatch.undo()
    # Brackets inside strings do not count; escaped quotes do not end a string.
    assert config.scan(b'{"comment": "[[[[[[[[[[\\"[[[[["}') == (1, 1, 2)
    assert config.load(json.dumps({"comment": "[" * 50, "presets": [{"name": "{{{{\"[[["}]}))[1] == []


def test_container_and_string_counts_are_limited():
    assert_fallback(json.dumps({"comment": "", "x": [[]] * 1100}), "more than 1024 objects and lists")
    assert_fallback(json.dumps({"x": ["ab"] * 2100}), "2048 strings")


def test_memory_error_while_parsing_or_checking_falls_back(monkeypatch):
    import json as host_json

    def oom(*a, **k):
        raise MemoryError

    monkeypatch.setattr(host_json, "loads", oom)
    assert_fallback("{}", "too big for the memory left on the box")
    monkeypatch.undo()
    real_check = config.check
    calls = []

    def oom_once(raw):
        calls.append(raw)
        if len(calls) == 1:
            raise MemoryError
        return real_check(raw)

    monkeypatch.setattr(config, "check", oom_once)
    assert_fallback("{}", "too big for the memory left on the box")
    assert calls[0] == {} and calls[1] == config.DEFAULT_CONFIG  # the user's file, then the default


def test_total_routes_are_limited():
    route = {"from": "in1", "to": "out1"}
    ok = {"presets": [{"routes": [route] * 32}] * 4}
    assert config.load(json.dumps(ok))[1] == []
    bad = {"presets": [{"routes": [route] * 32}] * 4 + [{"routes": [route]}]}
    assert_fallback(json.dumps(bad), "presets: 129 routes in all presets, at most 128")
    assert schema_errors(bad) == []  # a rule JSON Schema cannot state


def test_report_is_bounded():
    errors = assert_fallback((CORPUS / "invalid" / "many_errors.json").read_text(), "... and 8 more problems")
    assert len(errors) == config.MAX_ERRORS + 1


def test_long_values_are_cut_in_messages():
    (error,) = config.check({"presets": [{"name": "n" * 500}]})[1]
    assert len(error) < 120 and error.endswith("...")
    assert config.check({"presets": [{"name": {"b": 1, "a": 2}}]})[1] == [
        "presets[0].name: expected a string of 1-32 characters, not an object"]


def test_the_users_text_is_never_changed():
    text = (CORPUS / "invalid" / "unknown_port_string.json").read_text()
    copy = str(text)
    config.load(text)
    assert text == copy


# ---------------------------------------------------------------------------------------------
# Generated configs: the two checkers agree


def bad_values():
    return st.sampled_from([None, True, False, "x", "", -1, 0, 1000, 2.5, -0.5, 1e20, [], {}, ["in1"], {"a": 1}])


def documents(bad):
    """Config documents: with ``bad``, about one value in four is of a wrong type or out of
    range and objects sometimes carry an unknown key; without, every value is valid (so only
    the rules joining fields can fail: transforms overlap often, points may not ascend)."""

    def mostly(valid):
        return st.one_of(valid, valid, valid, bad_values()) if bad else valid

    def ints(lo, hi):
        if not bad:
            return st.one_of(st.integers(lo, hi), st.integers(lo, hi).map(float))
        return st.one_of(st.integers(lo - 2, hi + 2), st.integers(lo, hi).map(float))

    def numbers(lo, hi):
        if not bad:
            return st.one_of(st.integers(int(math.ceil(lo)), int(hi)),
                             st.floats(lo, hi, allow_nan=False, allow_infinity=False))
        return st.one_of(st.integers(int(lo) - 1, int(hi) + 1),
                         st.floats(lo - 1, hi + 1, allow_nan=False, allow_infinity=False))

    def pick(valid, wrong):
        return st.sampled_from(valid + wrong if bad else valid)

    def obj(required, optional):
        base = st.fixed_dictionaries(required, optional=optional)
        keys = ["comment", "colour", "From", "x"] if bad else ["comment"]
        values = st.one_of(st.text(max_size=3), bad_values()) if bad else st.text(max_size=3)
        junk = st.dictionaries(st.sampled_from(keys), values, max_size=1)
        return st.one_of(base, base, st.tuples(base, junk).map(lambda t: {**t[0], **t[1]}))

    def ports(names):
        names = names + NAMES  # version 2 names, given or not
        return mostly(st.one_of(st.just("all"), pick(names, ["out9", "in0"]),
                                st.lists(pick(names, ["in9"]), min_size=0 if bad else 1,
                                         max_size=len(names) + (1 if bad else 0))))

    def port_map(values):
        return st.dictionaries(pick(OUT + NAMES, ["in1"]), values, max_size=3)

    route = obj(
        {"from": ports(IN), "to": ports(OUT)},
        {
            "kinds": mostly(st.one_of(st.just("all"), st.lists(pick(KINDS, ["note_on"]), min_size=0 if bad else 1,
                                                               max_size=15 if bad else 14))),
            "channels": mostly(st.one_of(st.just("all"), st.lists(ints(1, 16), min_size=0 if bad else 1,
                                                                  max_size=17 if bad else 16))),
            "channel": mostly(ints(1, 16)),
            "remap": mostly(st.dictionaries(pick(KINDS[:6], ["sysex"]), st.one_of(
                ints(1, 16), pick(["follow:in2", "follow:usb", "follow:Keys"], ["follow:out1", "follow:"])), max_size=3)),
            "controllers": mostly(st.lists(ints(0, 127), min_size=0 if bad else 1, max_size=3)),
            "cc_map": mostly(st.dictionaries(pick(["0", "1", "74", "127"], ["128", "01", "x"]), ints(0, 127),
                                             min_size=0 if bad else 1, max_size=2)),
            "notes": mostly(st.lists(ints(0, 127), min_size=1 if bad else 2, max_size=3 if bad else 2)),
            "transpose": mostly(ints(-48, 48)),
            "velocity": mostly(obj({}, {"scale": mostly(ints(0, 400)), "offset": mostly(ints(-127, 127))})),
        },
    )
    clock = obj({}, {
        "master": mostly(pick(["auto", "internal", "clock_in", "in1", "usb"], ["out1", "in5"])),
        "bpm": mostly(numbers(20, 300)),
        "send": mostly(port_map(mostly(st.booleans()))),
        "divide": mostly(port_map(ints(1, 16))),
        "analog": mostly(obj({}, {
            "resolution": pick([1, 2, 4, 24, 48, 4.0, "1/8", "1/4", "1/2", "1bar"], [3, "1/16", "4"]),
            "pulse_ms": ints(1, 50), "reset_ms": ints(1, 50)})),
    })
    voice = obj({}, {
        "channel": ints(1, 16), "priority": pick(["last", "low", "high"], ["first"]),
        "legato": mostly(st.booleans()), "transpose": ints(-48, 48), "bend_range": ints(0, 24),
        "glide_ms": ints(0, 5000), "mod_range": numbers(0, 5),
        "notes": mostly(st.lists(ints(0, 127), min_size=1 if bad else 2, max_size=3 if bad else 2)),
        "mod": pick(["velocity", "aftertouch", "pitch_bend", "cc:0", "cc:1", "cc:127"],
                    ["cc:128", "cc:01", "cc:", "cc:1 ", "cc:-1", "CC:1", "cc:1\n"]),
    })
    cv = obj({}, {
        "mode": pick(["mono", "poly", "unison"], ["duo"]),
        "voices": mostly(st.lists(voice, min_size=0 if bad else 1, max_size=5 if bad else 4)),
        "poly": mostly(obj({}, {"channel": ints(1, 16), "voices": ints(2, 4),
                                "allocation": pick(["cyclic", "reuse", "steal_oldest", "low", "high"], ["random"])})),
        "drums": mostly(obj({}, {
            "channel": ints(1, 16),
            "notes": mostly(st.lists(ints(0, 127), min_size=7 if bad else 8, max_size=9 if bad else 8)),
            "mode": mostly(st.one_of(pick(["trigger", "gate"], ["latch"]),
                                     st.lists(pick(["trigger", "gate"], ["latch"]), min_size=7 if bad else 8,
                                              max_size=9 if bad else 8))),
            "trigger_ms": ints(1, 100)})),
    })
    on_enter = obj({"to": pick(OUT[:5] + NAMES, ["cv", "in1"]), "channel": ints(1, 16), "program": ints(0, 127)},
                   {"bank": mostly(st.one_of(ints(0, 127), st.lists(ints(0, 127), min_size=2, max_size=2)))})
    preset = obj({}, {
        "on_enter": mostly(st.lists(on_enter, min_size=0 if bad else 1, max_size=2)),
        "name": mostly(st.text(min_size=0 if bad else 1, max_size=34 if bad else 32)),
        "routes": mostly(st.lists(route, max_size=4)),
        "clock": mostly(clock),
        "cv": mostly(cv),
    })
    points = st.lists(st.lists(numbers(-1, 10.5), min_size=1 if bad else 2, max_size=3 if bad else 2),
                      min_size=1 if bad else 2, max_size=4)
    jack = mostly(st.one_of(
        obj({}, {"offset": numbers(-0.5, 0.5), "scale": numbers(0.9, 1.1)}),
        obj({"points": points}, {"offset": st.just(0.0)} if bad else {}),
    ))
    doc = obj({}, {
        "version": pick([1, 2, 1.0, 2, 2], [3, True, "1"]),
        "names": mostly(st.dictionaries(pick(["in1", "in2", "out3", "usb"], ["cv"]),
                                        pick(NAMES, ["out9", "all", ""]), max_size=2)),
        "preset_select": mostly(obj({"from": pick(IN + NAMES, ["out1"]), "channel": ints(1, 16)}, {})),
        "presets": mostly(st.lists(preset, min_size=0 if bad else 1, max_size=3)),
        "outputs": mostly(st.dictionaries(pick(OUT[:5], ["cv", "in1"]),
                                          mostly(obj({}, {"running_status": mostly(st.booleans())})), max_size=2)),
        "calibration": mostly(st.dictionaries(pick(list(config.JACKS), ["cv9"]), jack, max_size=2)),
        "panel": mostly(obj({}, {"brightness": numbers(0, 1), "long_press_ms": ints(200, 3000)})),
    })
    return st.one_of(doc, bad_values()) if bad else doc


IN = ["in1", "in2", "in3", "in4", "usb"]
NAMES = ["Keys", "Synth"]
OUT = ["out1", "out2", "out3", "out4", "usb", "cv"]
KINDS = [n for n, _ in midi.KIND_NAMES]
DOC = st.one_of(documents(bad=True), documents(bad=False))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(DOC)
def test_generated_configs_get_the_same_verdict_from_both_checkers(doc):
    found = schema_errors(doc)
    settings_, errors = config.check(doc)
    if not found:
        # Valid to the schema: the firmware accepts it, or refuses it for a rule the schema
        # cannot state.
        assert all(any(c in e for c in CROSS_FIELD) for e in errors), errors
        if not errors:
            assert settings_ is not None and settings_["presets"]
        return
    assert errors, "the schema refuses what the firmware accepts: %s" % [e.message for e in found]
    assert settings_ is None
    schema_paths = [key_path(e.absolute_path) for e in found]
    for e in errors:
        if e.startswith("... and ") or any(c in e for c in CROSS_FIELD):
            continue  # a rule the schema cannot state has no schema error to match
        assert any(related(firmware_path(e), p) for p in schema_paths), (e, schema_paths)
    if len(errors) < config.MAX_ERRORS:
        for p in schema_paths:
            assert any(related(p, firmware_path(e)) for e in errors), (p, errors)


@settings(max_examples=150, deadline=None)
@given(DOC)
def test_generated_configs_load_like_they_check(doc):
    """load() of the text = check() of the document, with the safe fallback on any error."""
    text = json.dumps(doc)
    settings_, errors = config.load(text)
    checked, check_errors = config.check(doc)
    if len(text.encode()) > config.MAX_CONFIG_BYTES or config.scan(text.encode())[0] > config.MAX_DEPTH:
        return
    assert errors == check_errors
    assert settings_ == (checked if not errors else config.default_settings())


# ---------------------------------------------------------------------------------------------
# The same checker on MicroPython


def test_micropython_gives_the_same_verdicts():
    """Every corpus file through config.load on the MicroPython VM: the same errors (or none)."""
    names = [p for p in VALID + INVALID] + [ROOT / "config.json"] + sorted(EXAMPLES.glob("*.json"))
    files = mpvm.firmware_files()
    for k, p in enumerate(names):
        files["/fw/corpus/%d.json" % k] = p.read_text()
    script = (
        "import json\nfrom firmware import config\n"
        "for k in range(%d):\n"
        "    s, e = config.load(open('/fw/corpus/%%d.json' %% k).read())\n"
        "    print('RESULT', k, json.dumps(e), json.dumps(s is not None and len(s['presets'])))\n" % len(names)
    )
    out = mpvm.run(script, files=files, timeout=120)
    results = {}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            _, k, rest = line.split(" ", 2)
            errors_json, n = rest.rsplit(" ", 1)
            results[int(k)] = (json.loads(errors_json), json.loads(n))
    assert len(results) == len(names)
    for k, p in enumerate(names):
        settings_, errors = config.load(p.read_text())
        assert results[k] == (errors, len(settings_["presets"])), p.name


def test_micropython_says_the_same_about_any_bytes():
    """The whole-file messages, word for word, on the MicroPython VM (whose json parser says only
    "syntax error in JSON"): the box's console and validate agree."""
    cases = [data for data, _ in ANY_BYTES] + [b"\xef\xbb\xbf" + VALID_TEXT.encode()]
    script = "import json\nfrom firmware import config\nCASES = [%s]\n" % ", ".join(repr(d) for d in cases) + (
        "for k, data in enumerate(CASES):\n"
        "    s, e = config.load(data)\n"
        "    print('RESULT', k, json.dumps(e))\n")
    out = mpvm.run(script, timeout=120)
    results = {}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            _, k, errors = line.split(" ", 2)
            results[int(k)] = json.loads(errors)
    assert len(results) == len(cases)
    for k, data in enumerate(cases):
        assert results[k] == config.load(data)[1], (k, data[:40])


def big_config():
    """128 routes over 16 presets, each preset with its own clock and cv: the heaviest realistic
    file within the limits (about 12 KB)."""
    presets = []
    for p in range(16):
        routes = [{"from": "in%d" % (1 + r % 4), "to": ["out%d" % (1 + (r + k) % 4) for k in range(2)],
                   "kinds": ["notes", "clock"], "channels": [1 + r % 16]} for r in range(8)]
        presets.append({"name": "Preset number %d" % p, "routes": routes,
                        "cv": {"mode": "poly", "voices": [{"mod": "cc:1"}]}, "clock": {"master": "in1", "send": {"out2": False}}})
    return json.dumps({"presets": presets}, separators=(",", ":"))


def test_checked_settings_fit_the_heap_on_micropython():
    text = big_config()
    assert config.load(text)[1] == [] and len(text) < config.MAX_CONFIG_BYTES
    files = dict(mpvm.firmware_files(), **{"/fw/big.json": text})
    steps = [
        # Warm up (imports, a first load) so both measurements carry the same leftovers.
        "import mpharness\nfrom firmware import config\ns, e = config.load(None)\n",
        "s = None\n",
        "mpharness.report_heap('before')\n",
        "s, e = config.load(open('/fw/big.json').read())\nassert e == [], e\n",
        "mpharness.report_heap('after')\n",
    ]
    report = mpvm.parse_report(mpvm.run(steps, files=files, timeout=120))
    live = report["heap"]["after"] - report["heap"]["before"]
    print("checked settings of the 128-route config: %d bytes live" % live)
    assert 0 < live < 32 * 1024


def test_the_board_reads_at_most_one_character_past_the_limit():
    import ast

    tree = ast.parse((ROOT / "firmware" / "board_io.py").read_text())
    limit = next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 and getattr(node.targets[0], "id", "") == "CONFIG_READ_LIMIT")
    assert limit == config.MAX_CONFIG_BYTES + 1
    # Through the simulator: a 100 KB config.json is refused as too big, not read whole.
    from host_tools.sim import runner

    r = runner.simulate(json.dumps({"comment": "x" * 100000}), {}, until_ms=5)
    assert r.config_errors == ["config.json: more than 16384 bytes, the most the box reads"]


# The simulator as the box: --as-device with a config.json of any bytes never stops the box.
DEVICE_CASES = {
    "latin-1": (VALID_TEXT.encode("latin-1"), "config.json is not UTF-8 text (byte 0xE9 at offset 40)"),
    "utf-16": (VALID_TEXT.encode("utf-16"), "config.json is UTF-16 text"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00", "config.json is not text: a NUL byte at offset 8"),
    "truncated": (VALID_TEXT.encode()[:-3], "config.json: not valid JSON: the file ends before every { and [ is closed"),
    "empty": (b"", "config.json is empty"),
    "comma": (b'{"version": 1, "presets": [{"name": "A", "routes": [{"from": "in1", "to": "out2"},]}]}',
              "config.json: not valid JSON: trailing comma after the last item in line 1"),
    "bom": (b"\xef\xbb\xbf" + VALID_TEXT.encode(), None),
}


@pytest.mark.parametrize("case", sorted(DEVICE_CASES))
def test_the_simulated_box_runs_on_any_config_bytes(case, tmp_path, capsys):
    from host_tools.sim import cli

    data, message = DEVICE_CASES[case]
    path = tmp_path / "config.json"
    path.write_bytes(data)
    notes = tmp_path / "in1.txt"
    notes.write_text("1 90 3C 64\n5 80 3C 00\n")
    out = tmp_path / "out"
    assert cli.main(["--config", str(path), "--in", "in1=%s" % notes, "--as-device", "--no-plot",
                     "--out", str(out)]) == 0
    err = capsys.readouterr().err
    console = (out / "console.txt").read_text()
    assert "Thruway ready" in console
    got = {port: [line.split()[1] for line in (out / ("%s.txt" % port)).read_text().splitlines()
                  if not line.startswith("#")].count("90") for port in ("out1", "out2", "out3", "out4")}
    if message is None:  # the BOM is accepted: the config's routing (in1 to out2 only)
        assert err == "" and "config error" not in console
        assert [p for p, n in got.items() if n] == ["out2"]
    else:  # the fallback (everything merged), and the console and stderr say why
        assert message in err and ("config error: " + message) in console
        assert all(got.values()), got


def test_the_board_runs_on_a_latin1_config_and_says_why():
    """On real CircuitPython (the board engine): a Latin-1 config.json, which stopped the box at
    boot when it was read as text, runs the fallback and the console names the byte."""
    from host_tools.board import engine

    try:
        files = engine.find_files()
    except engine.Missing as e:
        pytest.skip(str(e))
    data, message = DEVICE_CASES["latin-1"]
    run = engine.board_run(data, {"in1": [(5_000_000, b"\x90\x3c\x64")]}, until_ms=30, files=files)
    assert "config error: " + message in run.console
    assert "Thruway ready" in run.console
    for port in ("out1", "out2", "out3", "out4"):  # the fallback: everything merged
        assert bytes(b for _, b in run.outputs[port]) == b"\x90\x3c\x64", port
