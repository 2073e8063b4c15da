"""``python -m host_tools validate CONFIG``: the firmware's checker plus the JSON Schema."""

import json
from pathlib import Path

import pytest

from host_tools import validate
from host_tools.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
HAS_SCHEMA = validate.SCHEMA.exists()


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


def test_the_default_config_is_valid(capsys):
    assert main(["validate", str(ROOT / "config.json")]) == 0
    out = capsys.readouterr().out
    if HAS_SCHEMA:
        assert "valid (firmware checks and JSON Schema)" in out
    else:
        assert "JSON Schema check skipped" in out


def test_errors_name_their_key_paths_once_each(tmp_path, capsys):
    bad = write(tmp_path, "bad.json", {"version": 1, "presets": [
        {"name": "x", "routes": [{"from": "in1", "to": ["out1", "out9"], "channels": [0]}]}]})
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # One line a problem, each naming the file: the schema's own words only with --verbose.
    assert err[:-1] == [
        "error: %s: presets[0].routes[0].to[1]: unknown port 'out9' (ports are out1, out2, out3, out4, usb, cv, usbh)" % bad,
        "error: %s: presets[0].routes[0].channels[0]: 0 is not a MIDI channel (1-16)" % bad,
    ], err
    assert err[-1] == "%s: 2 problems: the box would ignore this file and merge everything" % bad
    assert main(["validate", str(bad), "--verbose"]) == 2
    out = capsys.readouterr().out.splitlines()
    if HAS_SCHEMA:
        assert any(line.startswith("schema: %s: presets[0].routes[0].to" % bad) for line in out), out


def test_without_a_schema_the_firmware_half_still_runs(tmp_path, capsys):
    ok = write(tmp_path, "ok.json", {"version": 1})
    assert main(["validate", str(ok), "--schema", str(tmp_path / "none.json")]) == 0
    assert "JSON Schema check skipped" in capsys.readouterr().out
    bad = write(tmp_path, "bad.json", "{not json")
    assert main(["validate", str(bad), "--schema", str(tmp_path / "none.json")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_the_schema_half_reports_what_the_firmware_accepts(tmp_path, capsys):
    """A stricter schema (comments of at most 3 characters): only the schema half objects, so
    the schema really is consulted, and its error carries the key path."""
    schema = write(tmp_path, "s.json", {"$schema": "https://json-schema.org/draft/2020-12/schema",
                                        "properties": {"comment": {"type": "string", "maxLength": 3}}})
    config = write(tmp_path, "c.json", {"version": 1, "comment": "a long comment"})
    assert main(["validate", str(config), "--schema", str(schema)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error: %s: comment: 'a long comment' is too long (JSON Schema)" % config, err


@pytest.mark.parametrize("data,words", [
    (b"", "my-setup.json is empty"),
    (b"  \n", "my-setup.json is empty"),
    (b"\xff\xfe{\x00}\x00", "my-setup.json is UTF-16 text"),
    (b'{\n  "version": 1,\n  "presets": [{"routes": [{"from": "in1", "to": "out1"},]}]\n}',
     "my-setup.json: not valid JSON: trailing comma after the last item in line 3"),
    (b'{\n  // KeyStep\n  "version": 1\n}',
     'my-setup.json: not valid JSON: comments are not JSON (line 2); use a "comment" key'),
    (b"{'version': 1}", "my-setup.json: not valid JSON: strings and keys need double quotes"),
    (b'{"version": 1, "presets": [', "my-setup.json: not valid JSON: the file ends before every { and [ is closed"),
])
def test_file_problems_in_the_firmware_words_naming_the_file(tmp_path, capsys, data, words):
    """The firmware words what is wrong with the file itself (firmware/config.py: decode,
    json_mistake); validate prints it once, with the file's own name, never the parser's
    "Expecting value"."""
    path = tmp_path / "my-setup.json"
    path.write_bytes(data)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2, err
    assert err[0].startswith("error: %s" % str(path).replace("my-setup.json", words)), err
    assert "Expecting" not in err[0] and "config.json" not in err[0]


def test_a_byte_order_mark_is_accepted_as_the_box_does(tmp_path, capsys):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + (ROOT / "config.json").read_bytes())
    assert main(["validate", str(path)]) == 0
    assert "valid" in capsys.readouterr().out


def test_text_inside_strings_is_not_a_problem():
    data = b'{"comment": "see http://x.org, or \'this\' ,]", "version": 1, "presets": [{"routes": []}]}'
    assert validate.check_bytes(data).errors == []


def test_unknown_keys_ports_and_kinds_get_the_closest_name(tmp_path, capsys):
    bad = write(tmp_path, "bad.json", {"version": 1, "presets": [
        {"name": "x", "routes": [{"from": "in1", "to": "out9", "chanels": [5], "kinds": ["note"]}]}]})
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert 'presets[0].routes[0].chanels: unknown key (did you mean "channels"? keys are from, to,' in err
    assert "unknown message kind 'note' (did you mean \"notes\"? kinds are notes," in err
    assert "unknown port 'out9' (ports are" in err  # no guess where none is close


def test_warnings_for_valid_files_that_may_not_do_what_was_meant(tmp_path, capsys):
    config = write(tmp_path, "w.json", {"version": 1, "presets": [
        {"name": "x", "routes": [{"from": "in1", "to": "out3", "channel": 5},
                                 {"from": "in2", "to": "out2", "channel": 2, "channels": "all"}]},
        {"name": "y"},
        {"name": "z", "routes": []}]})
    assert main(["validate", str(config)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("warning: %s: presets[0].routes[0].channel: 5 moves every channel message of this "
                             "route to channel 5, from any channel; to pass only channel 5 write \"channels\": [5]"
                             % config), out
    assert out[1].startswith("warning: %s: presets[1]: no \"routes\": preset \"y\" merges every input" % config)
    assert out[2] == "warning: %s: presets[2].routes: [] routes nothing: every input is silent in preset \"z\"" \
        % config
    assert out[3].endswith("valid (firmware checks and JSON Schema), 3 warnings") if HAS_SCHEMA else True
    assert len(out) == 4


def test_the_seed_configs_validate_without_warnings(capsys):
    for path in sorted((ROOT / "examples" / "configs").glob("*.json")) + [ROOT / "config.json"]:
        assert main(["validate", str(path)]) == 0
        assert "warning" not in capsys.readouterr().out, path


def test_key_path_notation():
    assert validate.key_path(["presets", 0, "routes", 2, "to", 1]) == "presets[0].routes[2].to[1]"
    assert validate.key_path([]) == "(top level)"


@pytest.mark.parametrize("schema_text,fragment", [
    ("{oops", "not valid JSON"),
    ('{"type": 5}', "not a valid JSON Schema"),
])
def test_a_broken_schema_is_exit_2(tmp_path, capsys, schema_text, fragment):
    schema = write(tmp_path, "s.json", schema_text)
    assert main(["validate", str(ROOT / "config.json"), "--schema", str(schema)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]


def test_unreadable_config_is_exit_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    binary = tmp_path / "b.json"
    binary.write_bytes(b'{"version": 1, "comment": "\xe9t\xe9"}')
    assert main(["validate", str(binary)]) == 2
    assert "b.json is not UTF-8 text (byte 0xE9 at offset 27)" in capsys.readouterr().err


CASES = [
    ({"version": 1}, True),
    ({"version": 1, "presets": [{"name": "a", "routes": [{"from": "all", "to": "all"}]}]}, True),
    ({"version": 1, "presets": [{"routes": [{"from": "in1", "to": "out1", "kinds": ["notes", "clock"],
                                             "channels": [1, 16]}]}]}, True),
    ({"version": 2}, True),
    ({"version": 3}, False),
    ({"version": 1, "bogus": 1}, False),
    ({"version": 1, "presets": []}, False),
    ({"version": 1, "presets": [{"routes": [{"from": "in7", "to": "out1"}]}]}, False),
    ({"version": 1, "presets": [{"routes": [{"from": "in1"}]}]}, False),
    ({"version": 1, "presets": [{"routes": [{"from": "in1", "to": "out1", "kinds": ["noise"]}]}]}, False),
    ({"version": 1, "presets": [{"routes": [{"from": "in1", "to": "out1", "channels": [17]}]}]}, False),
    ({"version": 1, "presets": [{"name": 5}]}, False),
]


@pytest.mark.skipif(not HAS_SCHEMA, reason="config.schema.json not written yet")
@pytest.mark.parametrize("config,valid", CASES)
def test_both_checkers_agree(config, valid):
    text = json.dumps(config)
    schema = validate.load_schema(validate.SCHEMA)
    assert (validate.firmware_errors(text) == []) is valid
    assert (validate.schema_errors(text, schema) == []) is valid
