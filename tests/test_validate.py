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


def test_errors_name_their_key_paths(tmp_path, capsys):
    bad = write(tmp_path, "bad.json", {"version": 1, "presets": [
        {"name": "x", "routes": [{"from": "in1", "to": ["out1", "out9"], "channels": [0]}]}]})
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    fw = [line for line in err.splitlines() if line.endswith("[firmware]")]
    assert any("presets[0].routes[0].to" in line and "out9" in line for line in fw), err
    assert any("presets[0].routes[0].channels" in line for line in fw), err
    if HAS_SCHEMA:
        schema = [line for line in err.splitlines() if line.endswith("[schema]")]
        assert any("presets[0].routes[0].to" in line for line in schema), err
    assert err.strip().splitlines()[-1].endswith("the box would ignore this file and merge everything")


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
    assert err[0].endswith("comment: 'a long comment' is too long [schema]"), err
    assert not any("[firmware]" in line for line in err)


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
    binary.write_bytes(b"\xff\xfe\x00")
    assert main(["validate", str(binary)]) == 2
    assert "not UTF-8" in capsys.readouterr().err


CASES = [
    ({"version": 1}, True),
    ({"version": 1, "presets": [{"name": "a", "routes": [{"from": "all", "to": "all"}]}]}, True),
    ({"version": 1, "presets": [{"routes": [{"from": "in1", "to": "out1", "kinds": ["notes", "clock"],
                                             "channels": [1, 16]}]}]}, True),
    ({"version": 2}, False),
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
