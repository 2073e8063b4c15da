"""The editor's server (``host_tools/editor.py``) and its preview (``host_tools/preview.py``)
without a browser: the endpoints, the save path, and the preview on CPython and on the
MicroPython VM (the page runs it there) giving the same answer."""

import base64
import http.client
import json
import shutil
import sys
from pathlib import Path

import mido
import pytest

from host_tools import editor, preview

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "configs" / "a4-rytm-two-synths.json"
sys.path.insert(0, str(ROOT / "tests"))
import mpvm  # noqa: E402


@pytest.fixture
def server(tmp_path):
    config = tmp_path / "config.json"
    shutil.copy(SEED, config)
    srv, url = editor.serve(str(config))
    yield srv.server_address[1], config
    srv.shutdown()


def call(port, path, body=None, host=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": host or "127.0.0.1:%d" % port}
    if body is None:
        conn.request("GET", path, headers=headers)
    else:
        headers["Content-Type"] = "application/json"
        conn.request("POST", path, json.dumps(body), headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, (json.loads(data) if r.getheader("Content-Type") == "application/json" else data)


def test_state_serves_the_file_the_choices_and_the_page(server):
    port, config = server
    status, state = call(port, "/api/state")
    assert status == 200 and state["path"] == str(config) and state["text"] == config.read_text()
    assert state["choices"]["outputs"] == ["out1", "out2", "out3", "out4", "usb", "cv", "usbh"]
    assert "notes" in state["choices"]["kinds"] and "clock_in" in state["choices"]["masters"]
    assert set(state["demo"]) == {"in1", "in2"}
    status, page = call(port, "/")
    assert status == 200 and b"editor.js" in page
    # Nothing outside the page folder and the VM's two files is served.
    assert call(port, "/page/../editor.py")[0] == 404
    assert call(port, "/vm/package.json")[0] == 404


def test_requests_must_name_this_server_as_their_host(server):
    port, _ = server
    assert call(port, "/api/state", host="evil.example:%d" % port)[0] == 403
    assert call(port, "/api/save", {"text": "{}"}, host="evil.example")[0] == 403


def test_validate_splits_key_path_and_message(server):
    port, _ = server
    bad = json.dumps({"version": 1, "presets": [{"routes": [{"from": "in1", "to": "out3", "transpose": 99}]}]})
    status, verdict = call(port, "/api/validate", {"text": bad})
    assert status == 200 and not verdict["valid"]
    assert verdict["errors"][0]["path"] == "presets[0].routes[0].transpose"
    assert "99" in verdict["errors"][0]["message"]
    _, verdict = call(port, "/api/validate", {"text": '{"version": 1,}'})
    assert verdict["errors"] == [{"path": "", "message": "config.json: not valid JSON: trailing comma after the last "
                                                         "item in line 1"}]
    _, verdict = call(port, "/api/validate", {"text": json.dumps({"version": 1, "presets": [{"name": "x"}]})})
    assert verdict["valid"] and verdict["warnings"][0]["path"] == "presets[0]"
    assert verdict["warnings"][0]["message"].startswith("no \"routes\": preset \"x\" merges")


def test_save_writes_atomically_and_refuses_what_the_box_refuses(server, monkeypatch):
    port, config = server
    before = config.read_text()
    status, answer = call(port, "/api/save", {"text": '{"version": 3}'})
    assert status == 400 and not answer["saved"] and "version" in answer["errors"][0]["path"]
    assert config.read_text() == before
    written = []
    real = editor.flash.write_atomic
    monkeypatch.setattr(editor.flash, "write_atomic", lambda path, data: (written.append(path), real(path, data)))
    text = json.dumps({"version": 1, "presets": [{"name": "Merge", "routes": [{"from": "all", "to": "all"}]}]})
    status, answer = call(port, "/api/save", {"text": text})
    assert status == 200 and answer["saved"] and written == [str(config)]
    assert config.read_text() == text


def test_config_path_finds_the_drive_as_flash_does(tmp_path, monkeypatch):
    assert editor.config_path(config="x.json").endswith("x.json")
    assert editor.config_path(drive=str(tmp_path)) == str(tmp_path / "config.json")
    with pytest.raises(editor.EditorError, match="not a directory"):
        editor.config_path(drive=str(tmp_path / "none"))
    monkeypatch.setattr(editor.flash, "find_drive", lambda: str(tmp_path))
    assert editor.config_path() == str(tmp_path / "config.json")

    def none():
        raise editor.flash.FlashError("no CIRCUITPY drive found")

    monkeypatch.setattr(editor.flash, "find_drive", none)
    with pytest.raises(editor.EditorError, match="give --config FILE"):
        editor.config_path()


def test_a_dropped_midi_file_becomes_timed_bytes(server, tmp_path):
    port, _ = server
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", channel=4, note=64, velocity=100, time=480)]))
    mid.save(tmp_path / "p.mid")
    status, answer = call(port, "/api/input", {"name": "p.mid", "base64": base64.b64encode(
        (tmp_path / "p.mid").read_bytes()).decode()})
    assert status == 200 and answer["text"] == "500.000 94 40 64\n"
    status, answer = call(port, "/api/input", {"name": "p.txt", "base64": base64.b64encode(b"1 XYZ").decode()})
    assert status == 400 and "not a hex byte" in answer["error"]


def test_the_preview_routes_the_seed_note_to_the_ju06a_only():
    inputs = preview.parse_inputs({"in1": "10 94 40 64\n300 84 40 00\n"})
    result = preview.run(SEED.read_text(), 0, inputs)
    assert result["errors"] == []
    assert [words for _, words in result["outputs"]["out3"]] == ["ch5 Note On E4 vel 100", "ch5 Note Off E4 vel 0"]
    assert all(not result["outputs"][p] for p in ("out1", "out2", "out4", "usb"))
    assert result["signals"] == {}  # no route to cv, no clock: no jack moved
    # Preset 2 moves the KeyStep's channel 1 to the JU-06A's channel 5 (after its on_enter
    # program change, sent as the preset is selected).
    moved = preview.run(SEED.read_text(), 1, preview.parse_inputs({"in1": "10 90 40 64\n"}))
    assert [words for _, words in moved["outputs"]["out3"]] == ["ch5 Program 2", "ch5 Note On E4 vel 100"]


def test_validate_knows_format_2_names_and_the_page_gets_their_ports(server):
    port, _ = server
    good = {"version": 2, "names": {"in1": "Keys"}, "presets": [{"routes": [
        {"from": "Keys", "to": "out1", "notes": [0, 59], "remap": {"pitch_bend": "follow:in2"}}]}]}
    _, verdict = call(port, "/api/validate", {"text": json.dumps(good)})
    assert verdict["valid"], verdict
    good["presets"][0]["routes"][0]["from"] = "Kees"
    _, verdict = call(port, "/api/validate", {"text": json.dumps(good)})
    assert verdict["errors"][0]["path"] == "presets[0].routes[0].from"
    assert "neither a port nor a name" in verdict["errors"][0]["message"]
    _, state = call(port, "/api/state")
    assert state["choices"]["named_ports"][:4] == ["in1", "in2", "in3", "in4"]


def test_the_preview_shows_the_jacks_that_moved():
    config = (ROOT / "examples" / "configs" / "modular-keystep.json").read_text()
    demo = {port: (ROOT / "examples" / "demo" / name).read_text() for port, name in editor.DEMO}
    result = preview.run(config, 0, preview.parse_inputs(demo))
    assert {"cv1", "gate1", "cv2", "gate2", "drum1", "clock", "run"} <= set(result["signals"])
    assert "cv4" not in result["signals"] and "gate4" not in result["signals"]
    # C4 (note 60) on voice 1: 3 V (1 V/oct, 0 V at note 24), its gate up after it.
    first_cv = next(v for _, v in result["signals"]["cv1"] if v)
    assert abs(first_cv - 3.0) < 0.003
    assert result["signals"]["gate1"][1][0] > result["signals"]["cv1"][1][0]


def test_the_page_vm_and_cpython_give_the_same_preview():
    """The page runs host_tools/preview.py on MicroPython with the files /api/vm-files serves."""
    request = {"config": SEED.read_text(), "preset": 0, "inputs": {"in1": "10 94 40 64\n300 84 40 00\n",
                                                                   "in2": (ROOT / "examples/demo/digitakt.txt").read_text()}}
    files = dict(editor.Editor("unused").vm_files())
    files["/fw/request.json"] = json.dumps(request)
    out = mpvm.run("import preview\nprint(preview.run_json(open('/fw/request.json').read()))", files, timeout=120)
    on_vm = json.loads(out.strip().splitlines()[-1])
    on_host = json.loads(preview.run_json(json.dumps(request)))
    assert on_vm == on_host
    assert any(words == "ch5 Note On E4 vel 100" for _, words in on_vm["outputs"]["out3"])


def test_a_split_and_a_layer_onto_one_output_preview_alike_on_the_vm_and_cpython():
    """Routes that each transform sharing one output (examples/configs/split-one-synth.json):
    the preview shows both parts on out1, on the page's MicroPython as on CPython."""
    text = (ROOT / "examples" / "configs" / "split-one-synth.json").read_text()
    phrase = {"in1": "10 90 28 64\n20 90 40 5A\n300 80 28 00\n310 80 40 00\n"}
    split = preview.run(text, 0, preview.parse_inputs(phrase))
    assert split["errors"] == []
    assert [words for _, words in split["outputs"]["out1"]] == [
        "ch1 Note On E2 vel 100", "ch2 Note On E4 vel 90", "ch1 Note Off E2 vel 0", "ch2 Note Off E4 vel 0"]
    layer = preview.run(text, 1, preview.parse_inputs(phrase))
    assert [words for _, words in layer["outputs"]["out1"]][:4] == [
        "ch1 Note On E2 vel 100", "ch2 Note On E3 vel 70", "ch1 Note On E4 vel 90", "ch2 Note On E5 vel 63"]
    request = {"config": text, "preset": 1, "inputs": phrase}
    files = dict(editor.Editor("unused").vm_files())
    files["/fw/request.json"] = json.dumps(request)
    out = mpvm.run("import preview\nprint(preview.run_json(open('/fw/request.json').read()))", files, timeout=120)
    assert json.loads(out.strip().splitlines()[-1]) == json.loads(preview.run_json(json.dumps(request)))


def test_a_split_onto_one_output_validates_and_saves_as_it_came(tmp_path):
    text = (ROOT / "examples" / "configs" / "split-one-synth.json").read_text()
    config = tmp_path / "config.json"
    config.write_text("{}")
    srv, _ = editor.serve(str(config))
    try:
        port = srv.server_address[1]
        _, verdict = call(port, "/api/validate", {"text": text})
        assert verdict["valid"], verdict
        status, answer = call(port, "/api/save", {"text": text})
        assert status == 200 and answer["saved"]
        assert config.read_text() == text
        _, state = call(port, "/api/state")
        assert state["text"] == text
    finally:
        srv.shutdown()
