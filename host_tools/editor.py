"""``python -m host_tools editor [--config FILE | --drive PATH] [--port N] [--no-browser]``: edit a
config.json in the browser, and see what it will do before the box loads it.

A small server on 127.0.0.1 (``http.server`` from the standard library) serves the page in
``host_tools/editor_page/`` (plain HTML/JS, no build step) and a few JSON endpoints:

- ``GET /api/state``: the file's path and text (the repository's default config when the file
  does not exist yet), the JSON Schema's choices, the demo session (``examples/demo``);
- ``POST /api/validate`` ``{"text"}``: ``host_tools.validate.check_bytes``, the same firmware
  checker and schema as ``validate``, errors split into key path and message;
- ``POST /api/explain`` ``{"text"}``: ``host_tools.explain``'s lines;
- ``POST /api/save`` ``{"text"}``: refused when the box would refuse the text; else written with
  ``host_tools.flash.write_atomic`` (temp file, fsync, rename, read back: what
  ``flash --config-only`` does), so the file is never half written;
- ``GET /api/vm-files``: ``firmware/*.py`` and the preview's own modules, for the page's
  MicroPython VM; ``GET /vm/...``: that VM (the npm package ``tests/mpvm`` pins);
- ``POST /api/preview``: the same preview (``host_tools.preview``) run here on CPython, for a
  page without the VM (the npm package not installed);
- ``POST /api/input`` ``{"name", "base64"}``: a dropped ``.mid`` or ``.txt`` as timed-bytes text.

The drive is found as ``flash`` finds it (``host_tools.flash.find_drive``). Nothing is loaded
from outside the project: the page works offline. Requests must name this server as their Host
(a page elsewhere cannot reach it through DNS rebinding).
"""

import argparse
import base64
import json
import os
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from host_tools import explain, flash, fwimport, midiwire, preview, validate

REPO = fwimport.REPO
PAGE = REPO / "host_tools" / "editor_page"
VM_PACKAGE = REPO / "tests" / "mpvm" / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
VM_FILES = ("micropython.mjs", "micropython.wasm")
PREVIEW_MODULES = ("midiwire", "midiwords", "preview")  # host_tools modules the page's VM runs
DEMO = (("in1", "keystep.txt"), ("in2", "digitakt.txt"))
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".wasm": "application/wasm", ".json": "application/json"}
MAX_BODY = 1 << 20


class EditorError(Exception):
    """A problem main() prints on one line (exit 2)."""


def config_path(config=None, drive=None):
    """The file the editor opens and saves: ``--config FILE``, ``--drive PATH``/config.json, or
    the CIRCUITPY drive's config.json."""
    if config:
        return os.path.abspath(config)
    if drive:
        if not os.path.isdir(drive):
            raise EditorError("--drive %s: not a directory" % drive)
        return os.path.join(os.path.abspath(drive), "config.json")
    try:
        return os.path.join(flash.find_drive(), "config.json")
    except flash.FlashError as e:
        raise EditorError("%s (or give --config FILE to edit a file)" % e) from None


def split_error(line):
    """"presets[0].name: too long" -> {"path": "presets[0].name", "message": "too long"}; a
    whole-file problem ("config.json: not valid JSON: ...") has path ""."""
    head, sep, rest = line.partition(": ")
    if validate.whole_file(line) is not None or not sep:
        return {"path": "", "message": line}
    return {"path": "" if head == "(top level)" else head, "message": rest}


def check(text):
    result = validate.check_bytes(text.encode("utf-8"))
    return {"valid": not result.errors, "errors": [split_error(e) for e in result.errors],
            "warnings": [split_error(w) for w in result.warnings]}


def schema_choices():
    """The documented choices the page offers, from the firmware (one source of each list)."""
    config = fwimport.firmware_module("config")
    midi = fwimport.firmware_module("midi")
    router = fwimport.firmware_module("router")
    return {
        "inputs": list(router.INPUTS), "outputs": list(router.OUTPUTS),
        "kinds": [name for name, _ in midi.KIND_NAMES],
        "channel_kinds": [name for name, _ in config.CHANNEL_KINDS],
        "masters": list(config.CLOCK_MASTERS) + list(router.INPUTS),
        "resolutions": list(config.RESOLUTIONS), "cv_modes": list(config.CV_MODES),
        "priorities": list(config.PRIORITIES), "allocations": list(config.ALLOCATIONS),
        "mods": list(config.MODS), "drum_modes": list(config.DRUM_MODES), "jacks": list(config.JACKS),
        "midi_outputs": list(config.MIDI_OUTPUTS), "named_ports": list(config.NAMED_PORTS),
    }


def read_input(name, data):
    """A dropped file -> timed-bytes text (``.mid`` through ``midiwire.read_smf``)."""
    if name.lower().endswith(".mid"):
        with tempfile.NamedTemporaryFile(suffix=".mid", delete=False) as f:
            f.write(data)
        try:
            lines = midiwire.read_smf(f.name)
        finally:
            os.unlink(f.name)
        return "".join("%s %s\n" % (midiwire.format_time_ns(t), " ".join("%02X" % b for b in d)) for t, d in lines)
    text = data.decode("utf-8")
    midiwire.parse_timed_text(text, name)
    return text


class Editor:
    """The state the handler serves: the file, and the answers to each endpoint."""

    def __init__(self, path):
        self.path = path

    def state(self):
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                text, exists = f.read(), True
        except FileNotFoundError:
            text, exists = (REPO / "config.json").read_text(), False
        demo = {port: (REPO / "examples" / "demo" / name).read_text() for port, name in DEMO}
        return {"path": self.path, "exists": exists, "text": text, "choices": schema_choices(), "demo": demo,
                "vm": all((VM_PACKAGE / n).is_file() for n in VM_FILES)}

    def vm_files(self):
        files = {}
        for path in sorted((REPO / "firmware").glob("*.py")):
            files["/fw/firmware/%s" % path.name] = path.read_text()
        for name in PREVIEW_MODULES:
            files["/fw/%s.py" % name] = (REPO / "host_tools" / (name + ".py")).read_text()
        return files

    def save(self, text):
        verdict = check(text)
        if not verdict["valid"]:
            return 400, {"saved": False, "errors": verdict["errors"]}
        try:
            flash.write_atomic(self.path, text.encode("utf-8"))
        except flash.FlashError as e:
            return 500, {"saved": False, "errors": [{"path": "", "message": str(e)}]}
        return 200, {"saved": True, "path": self.path}

    def explain(self, text):
        try:
            return {"lines": explain.explain_text(text)}
        except explain.ExplainError as e:
            return {"lines": [], "error": str(e)}

    def post(self, route, body):
        if route == "/api/validate":
            return 200, check(body["text"])
        if route == "/api/explain":
            return 200, self.explain(body["text"])
        if route == "/api/save":
            return self.save(body["text"])
        if route == "/api/preview":
            return 200, json.loads(preview.run_json(json.dumps(body)))
        if route == "/api/input":
            try:
                return 200, {"text": read_input(body["name"], base64.b64decode(body["base64"]))}
            except (ValueError, UnicodeDecodeError) as e:
                return 400, {"error": str(e)}
        return 404, {"error": "no such endpoint"}


def make_handler(editor):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # quiet: the page talks a lot
            pass

        def _host_ok(self):
            host = self.headers.get("Host", "")
            port = self.server.server_address[1]
            return host in ("127.0.0.1:%d" % port, "localhost:%d" % port)

        def _send(self, status, body, kind):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status, value):
            self._send(status, json.dumps(value).encode(), "application/json")

        def do_GET(self):
            if not self._host_ok():
                return self._json(403, {"error": "wrong host"})
            route = self.path.split("?", 1)[0]
            if route == "/":
                route = "/page/index.html"
            if route == "/api/state":
                return self._json(200, editor.state())
            if route == "/api/vm-files":
                return self._json(200, editor.vm_files())
            for prefix, folder, names in (("/page/", PAGE, None), ("/vm/", VM_PACKAGE, VM_FILES)):
                if route.startswith(prefix):
                    name = route[len(prefix):]
                    path = folder / name
                    if "/" in name or name.startswith(".") or (names and name not in names) or not path.is_file():
                        break
                    return self._send(200, path.read_bytes(), TYPES.get(path.suffix, "application/octet-stream"))
            self._json(404, {"error": "not found"})

        def do_POST(self):
            if not self._host_ok():
                return self._json(403, {"error": "wrong host"})
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._json(413, {"error": "too large"})
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return self._json(400, {"error": "not JSON"})
            try:
                status, value = editor.post(self.path, body)
            except (KeyError, TypeError) as e:
                status, value = 400, {"error": "bad request (%s)" % e}
            self._json(status, value)

    return Handler


def serve(path, port=0):
    """Start the server in a thread. Returns (server, url); ``server.shutdown()`` stops it."""
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(Editor(path)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "http://127.0.0.1:%d/" % server.server_address[1]


def _parser():
    p = argparse.ArgumentParser(prog="python -m host_tools editor",
                                description="Edit config.json in the browser and preview it through the firmware.")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--config", metavar="FILE", help="the config file to edit (created on save)")
    where.add_argument("--drive", metavar="PATH", help="the CIRCUITPY drive (default: found as flash finds it)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--no-browser", action="store_true", help="print the address; do not open a browser")
    return p


def main(argv):
    args = _parser().parse_args(argv)
    try:
        path = config_path(args.config, args.drive)
        try:
            server, url = serve(path, args.port)
        except OSError as e:
            raise EditorError("cannot listen on 127.0.0.1:%d (%s)" % (args.port, e.strerror)) from None
    except EditorError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    print("editor: %s at %s; Ctrl-C to stop" % (path, url), flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    server.shutdown()
    print("editor: stopped")
    return 0
