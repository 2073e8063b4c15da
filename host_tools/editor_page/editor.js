// Thruway config editor (host_tools/editor.py serves it). The page keeps the config as a parsed
// JSON object; every field writes into it at its key path (the checker's notation, e.g.
// "presets[0].routes[1].channel"), and the text Save writes is shown in the textarea below.
// Checking runs on the server (the firmware's checker and the JSON Schema, as `validate`);
// the preview runs firmware/*.py on MicroPython (WebAssembly) here in the page.

const $ = (id) => document.getElementById(id);
const S = {
  config: null, // the parsed config (null while the text is not JSON)
  text: "", // exactly what Save writes
  preset: 0,
  route: null, // the selected route's index
  choices: null, // lists from the firmware (/api/state)
  demo: null,
  vm: false,
  phrase: null, // {port: timed-bytes text} from a dropped file
  lastPreview: null,
};
const CHANNELS = Array.from({ length: 16 }, (_, k) => k + 1);
const SHORT = {
  notes: "notes", poly_pressure: "poly AT", control_change: "CC", program_change: "PC",
  channel_pressure: "AT", pitch_bend: "bend", sysex: "SysEx", clock: "clock", transport: "transport",
  song_position: "SPP", mtc: "MTC", tune_request: "tune", active_sensing: "AS", reset: "reset",
};

// -- key paths ------------------------------------------------------------------------------------

function pathOf(keys) {
  return keys.map((k, i) => (typeof k === "number" ? `[${k}]` : (i ? "." : "") + k)).join("");
}

function getAt(obj, keys) {
  for (const k of keys) {
    if (obj === null || typeof obj !== "object") return undefined;
    obj = obj[k];
  }
  return obj;
}

// Set (or with undefined, delete) the value at keys, making objects and lists on the way; a
// list is padded with {} (voices not listed keep their defaults).
function setAt(obj, keys, value) {
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i];
    if (obj[k] === null || typeof obj[k] !== "object") obj[k] = typeof keys[i + 1] === "number" ? [] : {};
    obj = obj[k];
    if (Array.isArray(obj) && typeof keys[i + 1] === "number") while (obj.length < keys[i + 1]) obj.push({});
  }
  const last = keys[keys.length - 1];
  if (value === undefined) {
    if (Array.isArray(obj)) obj.splice(last, 1);
    else delete obj[last];
  } else obj[last] = value;
}

// -- the text Save writes: lists of plain values and short objects on one line ------------------

function oneLine(v) {
  if (Array.isArray(v)) return "[" + v.map(oneLine).join(", ") + "]";
  if (v !== null && typeof v === "object")
    return "{" + Object.entries(v).map(([k, x]) => JSON.stringify(k) + ": " + oneLine(x)).join(", ") + "}";
  return JSON.stringify(v);
}

function format(v, indent = "") {
  const flat = oneLine(v);
  if (v === null || typeof v !== "object" || (indent && indent.length + flat.length <= 110)) return flat;
  const inner = indent + "  ";
  if (Array.isArray(v)) {
    if (!v.length) return "[]";
    return "[\n" + v.map((x) => inner + format(x, inner)).join(",\n") + "\n" + indent + "]";
  }
  const keys = Object.keys(v);
  if (!keys.length) return "{}";
  return "{\n" + keys.map((k) => inner + JSON.stringify(k) + ": " + format(v[k], inner)).join(",\n") + "\n" + indent + "}";
}

// -- talking to the server --------------------------------------------------------------------------

async function api(path, body) {
  const init = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(path, init);
  return [r.status, await r.json()];
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function names() {
  const n = S.config && S.config.names;
  return n && typeof n === "object" ? n : {};
}

function portLabel(port) {
  const n = names()[port];
  return typeof n === "string" && n.trim() ? `${n} (${port})` : port;
}

// -- editing ------------------------------------------------------------------------------------------

function edit(keys, value, rebuild = false) {
  setAt(S.config, keys, value);
  S.text = format(S.config) + "\n";
  $("json").value = S.text;
  if (rebuild) renderPreset();
  renderMatrix();
  scheduleCheck();
}

function field(label, keys, input) {
  return el("label", { class: "field", "data-path": pathOf(keys) }, el("span", { class: "key" }, label), input,
    el("span", { class: "err" }));
}

function textInput(keys, placeholder) {
  const v = getAt(S.config, keys);
  const i = el("input", { type: "text", value: v === undefined ? "" : String(v), placeholder });
  i.addEventListener("input", () => edit(keys, i.value === "" ? undefined : i.value));
  return i;
}

function numberInput(keys, placeholder) {
  const v = getAt(S.config, keys);
  const i = el("input", { type: "number", value: v === undefined ? "" : String(v), placeholder });
  i.addEventListener("input", () => edit(keys, i.value === "" ? undefined : Number(i.value)));
  return i;
}

// [low, high] as two numbers; both empty leaves the key out (the default range).
function rangeInput(keys, low, high) {
  const v = getAt(S.config, keys);
  const ends = [low, high].map((d, k) => el("input", { type: "number", min: 0, max: 127,
    value: Array.isArray(v) && v[k] !== undefined ? String(v[k]) : "", placeholder: String(d) }));
  ends.forEach((i) => i.addEventListener("input", () => {
    const [a, b] = ends.map((e) => e.value);
    edit(keys, a === "" && b === "" ? undefined : [a === "" ? low : Number(a), b === "" ? high : Number(b)]);
  }));
  return el("span", { class: "choices" }, ends);
}

// A select of documented choices; "" is the default (the key left out).
function selectInput(keys, choices, defaultText, rebuild = false) {
  const v = getAt(S.config, keys);
  const s = el("select", {}, el("option", { value: "" }, defaultText),
    choices.map((c) => el("option", { value: JSON.stringify(c) }, String(c))));
  s.value = v === undefined ? "" : JSON.stringify(v);
  if (v !== undefined && s.value !== JSON.stringify(v)) { // a value the choices lack: show it (the checker flags it)
    s.append(el("option", { value: JSON.stringify(v) }, String(v)));
    s.value = JSON.stringify(v);
  }
  s.addEventListener("change", () => edit(keys, s.value === "" ? undefined : JSON.parse(s.value), rebuild));
  return s;
}

function boolInput(keys, dflt) {
  const v = getAt(S.config, keys);
  const c = el("input", { type: "checkbox" });
  c.checked = v === undefined ? dflt : !!v;
  c.addEventListener("change", () => edit(keys, c.checked === dflt ? undefined : c.checked));
  return c;
}

// Checkboxes for a value that is "all", one name, or a list (from, to, kinds, channels). With
// nothing checked the key is left out when it has a default (kinds, channels), else [].
function multiInput(keys, choices, required) {
  const v = getAt(S.config, keys);
  const all = v === "all" || (v === undefined && !required);
  const on = new Set(v === "all" ? choices : v === undefined ? [] : Array.isArray(v) ? v : [v]);
  const boxes = choices.map((c) => {
    const b = el("input", { type: "checkbox", value: String(c) });
    b.checked = on.has(c);
    b.disabled = all;
    return [c, b];
  });
  const allBox = el("input", { type: "checkbox", value: "all" });
  allBox.checked = all;
  const write = () => {
    if (allBox.checked) return edit(keys, required ? "all" : undefined, true);
    const picked = boxes.filter(([, b]) => b.checked).map(([c]) => c);
    if (!picked.length) return edit(keys, required ? [] : undefined, true);
    edit(keys, required && picked.length === 1 && typeof picked[0] === "string" ? picked[0] : picked);
  };
  allBox.addEventListener("change", () => {
    if (!allBox.checked) edit(keys, required ? [] : choices.slice(), true);
    else write();
  });
  boxes.forEach(([, b]) => b.addEventListener("change", write));
  return el("span", { class: "choices" }, el("label", {}, allBox, "all"),
    boxes.map(([c, b]) => el("label", {}, b, String(c))));
}

// -- rendering ----------------------------------------------------------------------------------------

function presets() {
  const p = S.config && S.config.presets;
  return Array.isArray(p) ? p : null;
}

function renderTabs() {
  const nav = $("presets");
  nav.replaceChildren();
  const list = presets();
  if (!list) return;
  list.forEach((p, k) => {
    const name = p && typeof p.name === "string" ? p.name : `Preset ${k + 1}`;
    nav.append(el("button", { type: "button", class: k === S.preset ? "current" : "", "data-preset": k,
      onclick: () => { S.preset = k; S.route = null; renderAll(); } }, `${k + 1}: ${name}`));
  });
  nav.append(el("button", { type: "button", id: "add-preset", onclick: () => {
    list.push({ name: `Preset ${list.length + 1}`, routes: [{ from: "all", to: "all" }] });
    S.preset = list.length - 1;
    edit(["presets", S.preset, "name"], list[S.preset].name);
    renderAll();
  } }, "+ preset"));
  if (list.length > 1)
    nav.append(el("button", { type: "button", onclick: () => {
      list.splice(S.preset, 1);
      S.preset = Math.max(0, S.preset - 1);
      edit(["presets"], list);
      renderAll();
    } }, "remove this preset"));
}

function routesOf(preset) {
  return preset && Array.isArray(preset.routes) ? preset.routes : [];
}

// A port as written (a port, or a name from "names") -> the port.
function portOf(value) {
  for (const [port, name] of Object.entries(names())) if (name === value) return port;
  return value;
}

function expand(value, all) {
  if (value === "all") return all.slice();
  if (typeof value === "string") return [portOf(value)];
  return Array.isArray(value) ? value.map(portOf) : [];
}

// A list of numbers typed as "1, 64" (empty: the key left out).
function listInput(keys, placeholder) {
  const v = getAt(S.config, keys);
  const i = el("input", { type: "text", value: Array.isArray(v) ? v.join(", ") : v === undefined ? "" : JSON.stringify(v), placeholder });
  i.addEventListener("input", () => {
    const t = i.value.trim();
    edit(keys, t === "" ? undefined : t.split(/[ ,]+/).filter((x) => x !== "").map((x) => (isNaN(Number(x)) ? x : Number(x))));
  });
  return i;
}

// A bank: one number (CC 0) or "msb, lsb" (CC 0 and CC 32).
function bankInput(keys) {
  const v = getAt(S.config, keys);
  const i = el("input", { type: "text", value: Array.isArray(v) ? v.join(", ") : v === undefined ? "" : String(v), placeholder: "none" });
  i.addEventListener("input", () => {
    const parts = i.value.trim().split(/[ ,]+/).filter((x) => x !== "").map((x) => (isNaN(Number(x)) ? x : Number(x)));
    edit(keys, parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : parts);
  });
  return i;
}

// cc_map typed as "1>74, 7>11" (controller n leaves as m).
function ccMapInput(keys) {
  const v = getAt(S.config, keys);
  const text = v && typeof v === "object" ? Object.entries(v).map(([k, c]) => `${k}>${c}`).join(", ") : "";
  const i = el("input", { type: "text", value: text, placeholder: "1>74, 7>11" });
  i.addEventListener("input", () => {
    const t = i.value.trim();
    if (t === "") return edit(keys, undefined);
    const out = {};
    for (const pair of t.split(/\s*,\s*/)) {
      const [k, c] = pair.split(">").map((x) => x.trim());
      out[k] = c === undefined || isNaN(Number(c)) ? c : Number(c);
    }
    edit(keys, out);
  });
  return i;
}

// What a route does on a crossing, in a few characters: "notes, CC ch 1-4 -> ch 5".
function badgeText(route) {
  const parts = [];
  const kinds = route.kinds === undefined ? "all" : route.kinds === "all" ? "all + AS" : expand(route.kinds, []).map((k) => SHORT[k] || k).join(", ");
  parts.push(kinds);
  if (Array.isArray(route.channels)) parts.push("ch " + route.channels.join(","));
  if (route.channel !== undefined) parts.push("-> ch " + route.channel);
  if (route.remap && typeof route.remap === "object")
    for (const [k, c] of Object.entries(route.remap)) parts.push(`${SHORT[k] || k} -> ${typeof c === "string" ? c : "ch " + c}`);
  if (Array.isArray(route.notes)) parts.push(`notes ${route.notes.join("-")}`);
  if (route.transpose) parts.push((route.transpose > 0 ? "+" : "") + route.transpose + " st");
  if (Array.isArray(route.controllers)) parts.push("CC " + route.controllers.join(","));
  if (route.cc_map && typeof route.cc_map === "object")
    for (const [k, c] of Object.entries(route.cc_map)) parts.push(`CC ${k} -> ${c}`);
  if (route.velocity && typeof route.velocity === "object")
    parts.push(`vel ${route.velocity.scale ?? 100}%${route.velocity.offset ? (route.velocity.offset > 0 ? "+" : "") + route.velocity.offset : ""}`);
  return parts.join(" ");
}

function renderMatrix() {
  const box = $("matrix");
  if (!box) return;
  const ch = S.choices;
  const preset = (presets() || [])[S.preset];
  const table = el("table", { class: "matrix", id: "matrix-table" });
  table.append(el("tr", {}, el("th", {}, "from \\ to"), ch.outputs.map((o) => el("th", {}, portLabel(o)))));
  const cells = {};
  for (const i of ch.inputs) {
    const tr = el("tr", {}, el("th", {}, portLabel(i)));
    for (const o of ch.outputs) {
      const td = el("td", { "data-from": i, "data-to": o });
      td.addEventListener("click", (e) => {
        if (e.target !== td) return;
        const routes = routesOf(preset);
        routes.push({ from: i, to: o });
        S.route = routes.length - 1;
        edit(["presets", S.preset, "routes"], routes, true);
      });
      cells[i + ">" + o] = td;
      tr.append(td);
    }
    table.append(tr);
  }
  routesOf(preset).forEach((route, r) => {
    if (!route || typeof route !== "object") return;
    for (const i of expand(route.from, ch.inputs))
      for (const o of expand(route.to, ch.outputs)) {
        if (route.to === "all" && i === o) continue;  // usb to usb, usbh to usbh: never by "all"
        const td = cells[i + ">" + o];
        if (!td) continue;
        td.append(el("span", { class: "badge" + (r === S.route ? " selected" : ""), "data-route": r, title: `route ${r + 1}`,
          onclick: () => { S.route = r; renderPreset(); document.getElementById(`route-${r}`)?.scrollIntoView({ block: "nearest" }); } },
          `${r + 1}: ${badgeText(route)}`));
      }
  });
  // The clock row: where clock and transport may go (clock.send, clock.divide).
  const clock = (preset && preset.clock) || {};
  const send = clock.send || {};
  const divide = clock.divide || {};
  table.append(el("tr", {}, el("th", {}, `clock (${clock.master ?? "auto"})`), ch.outputs.map((o) =>
    el("td", { class: "clockcell" }, o === "cv" ? "jacks" : send[o] === false ? "off" :
      el("span", { class: "badge clock" }, "clock" + (divide[o] > 1 ? ` 1/${divide[o]}` : ""))))));
  box.replaceChildren(table);
}

function renderRoute(route, r) {
  const base = ["presets", S.preset, "routes", r];
  const ch = S.choices;
  const follow = ch.inputs.map((i) => "follow:" + i);
  const remap = el("span", { class: "choices" }, ch.channel_kinds.map((k) =>
    field(SHORT[k], [...base, "remap", k], selectInput([...base, "remap", k], k === "notes" ? CHANNELS : CHANNELS.concat(follow), "-"))));
  return el("div", { class: "route" + (r === S.route ? " selected" : ""), id: `route-${r}`, "data-path": pathOf(base) },
    el("h3", {}, `Route ${r + 1} `, el("button", { type: "button", onclick: () => {
      routesOf(presets()[S.preset]).splice(r, 1);
      S.route = null;
      edit(["presets", S.preset, "routes"], routesOf(presets()[S.preset]), true);
    } }, "remove"), el("span", { class: "err" })),
    el("div", {}, field("from", [...base, "from"], multiInput([...base, "from"], ch.inputs, true))),
    el("div", {}, field("to", [...base, "to"], multiInput([...base, "to"], ch.outputs, true))),
    el("div", {}, field("kinds", [...base, "kinds"], multiInput([...base, "kinds"], ch.kinds, false))),
    el("div", {}, field("channels", [...base, "channels"], multiInput([...base, "channels"], CHANNELS, false))),
    el("div", {},
      field("move to channel", [...base, "channel"], selectInput([...base, "channel"], CHANNELS, "(keep)")),
      field("transpose", [...base, "transpose"], numberInput([...base, "transpose"], "0")),
      field("velocity scale %", [...base, "velocity", "scale"], numberInput([...base, "velocity", "scale"], "100")),
      field("offset", [...base, "velocity", "offset"], numberInput([...base, "velocity", "offset"], "0"))),
    el("div", {},
      field("notes low, high", [...base, "notes"], listInput([...base, "notes"], "0, 127")),
      field("controllers", [...base, "controllers"], listInput([...base, "controllers"], "all")),
      field("cc_map", [...base, "cc_map"], ccMapInput([...base, "cc_map"]))),
    el("div", {}, field("remap", [...base, "remap"], remap)));
}

function renderClock(base) {
  const ch = S.choices;
  const c = [...base, "clock"];
  return el("div", { "data-path": pathOf(c) },
    el("h2", {}, "Clock"),
    field("master", [...c, "master"], selectInput([...c, "master"], ch.masters, "(auto)", true)),
    field("bpm", [...c, "bpm"], numberInput([...c, "bpm"], "120")),
    el("div", {}, ch.outputs.map((o) => field(`send ${o}`, [...c, "send", o], boolInput([...c, "send", o], true)))),
    el("div", {}, ch.outputs.map((o) => field(`divide ${o}`, [...c, "divide", o], numberInput([...c, "divide", o], "1")))),
    el("div", {},
      field("jack resolution", [...c, "analog", "resolution"], selectInput([...c, "analog", "resolution"], ch.resolutions, "(4 PPQN)")),
      field("pulse ms", [...c, "analog", "pulse_ms"], numberInput([...c, "analog", "pulse_ms"], "5")),
      field("reset ms", [...c, "analog", "reset_ms"], numberInput([...c, "analog", "reset_ms"], "5"))));
}

function renderCv(base) {
  const ch = S.choices;
  const c = [...base, "cv"];
  const voices = [0, 1, 2, 3].map((v) => {
    const vb = [...c, "voices", v];
    return el("div", { "data-path": pathOf(vb) }, el("b", {}, `voice ${v + 1} `),
      field("channel", [...vb, "channel"], selectInput([...vb, "channel"], CHANNELS, `(${v + 1})`)),
      field("priority", [...vb, "priority"], selectInput([...vb, "priority"], ch.priorities, "(last)")),
      field("legato", [...vb, "legato"], boolInput([...vb, "legato"], false)),
      field("transpose", [...vb, "transpose"], numberInput([...vb, "transpose"], "0")),
      field("bend range", [...vb, "bend_range"], numberInput([...vb, "bend_range"], "2")),
      field("glide ms", [...vb, "glide_ms"], numberInput([...vb, "glide_ms"], "0")),
      field("mod", [...vb, "mod"], textInput([...vb, "mod"], "velocity | aftertouch | pitch_bend | cc:N")),
      field("mod range V", [...vb, "mod_range"], numberInput([...vb, "mod_range"], "5")),
      field("notes low, high", [...vb, "notes"], rangeInput([...vb, "notes"], 0, 127)));
  });
  const notes = getAt(S.config, [...c, "drums", "notes"]);
  const noteInputs = el("span", { class: "choices" }, [0, 1, 2, 3, 4, 5, 6, 7].map((k) => {
    const i = el("input", { type: "number", value: Array.isArray(notes) && notes[k] !== undefined ? notes[k] : "", placeholder: String(36 + k) });
    i.addEventListener("input", () => {
      const list = Array.isArray(getAt(S.config, [...c, "drums", "notes"])) ? getAt(S.config, [...c, "drums", "notes"]).slice() : [36, 37, 38, 39, 40, 41, 42, 43];
      list[k] = i.value === "" ? 36 + k : Number(i.value);
      edit([...c, "drums", "notes"], list);
    });
    return i;
  }));
  return el("div", { "data-path": pathOf(c) },
    el("h2", {}, "CV voices and drums"),
    field("mode", [...c, "mode"], selectInput([...c, "mode"], ch.cv_modes, "(mono)", true)),
    field("poly channel", [...c, "poly", "channel"], selectInput([...c, "poly", "channel"], CHANNELS, "(1)")),
    field("poly voices", [...c, "poly", "voices"], selectInput([...c, "poly", "voices"], [2, 3, 4], "(4)")),
    field("allocation", [...c, "poly", "allocation"], selectInput([...c, "poly", "allocation"], ch.allocations, "(cyclic)")),
    voices,
    el("div", {}, el("b", {}, "drums "),
      field("channel", [...c, "drums", "channel"], selectInput([...c, "drums", "channel"], CHANNELS, "(10)")),
      field("mode", [...c, "drums", "mode"], selectInput([...c, "drums", "mode"], ch.drum_modes, "(trigger)")),
      field("trigger ms", [...c, "drums", "trigger_ms"], numberInput([...c, "drums", "trigger_ms"], "10"))),
    el("div", {}, field("notes of drum1..drum8", [...c, "drums", "notes"], noteInputs)));
}

// The preset's on_enter: a program change (with bank select) per row.
function renderOnEnter(base) {
  const ch = S.choices;
  const keys = [...base, "on_enter"];
  const list = getAt(S.config, keys);
  const rows = Array.isArray(list) ? list : [];
  return el("div", { "data-path": pathOf(keys) },
    el("h2", {}, "On entering this preset (version 2)"), el("span", { class: "err" }),
    rows.map((_, n) => el("div", { "data-path": pathOf([...keys, n]) },
      field("to", [...keys, n, "to"], selectInput([...keys, n, "to"], ch.midi_outputs, "-")),
      field("channel", [...keys, n, "channel"], selectInput([...keys, n, "channel"], CHANNELS, "-")),
      field("program (0-127)", [...keys, n, "program"], numberInput([...keys, n, "program"], "")),
      field("bank (msb or msb, lsb)", [...keys, n, "bank"], bankInput([...keys, n, "bank"])),
      el("button", { type: "button", onclick: () => {
        rows.splice(n, 1);
        edit(keys, rows.length ? rows : undefined, true);
      } }, "remove"))),
    el("button", { type: "button", class: "add-on-enter", onclick: () => {
      rows.push({ to: "out1", channel: 1, program: 0 });
      edit(keys, rows, true);
    } }, "+ program change"));
}

function renderBox() {
  const ch = S.choices;
  return el("div", {},
    el("h2", {}, "Box (all presets)"),
    el("div", { "data-path": "version" }, field("format version", ["version"], selectInput(["version"], [1, 2], "(1)", true))),
    el("div", { "data-path": "names" }, ch.named_ports.map((p) =>
      field(`name of ${p}`, ["names", p], textInput(["names", p], p)))),
    el("div", { "data-path": "preset_select" },
      field("select presets by program change from", ["preset_select", "from"], selectInput(["preset_select", "from"], ch.inputs, "(off)")),
      field("on channel", ["preset_select", "channel"], selectInput(["preset_select", "channel"], CHANNELS, "-"))),
    el("div", { "data-path": "outputs" }, ch.midi_outputs.map((o) =>
      field(`running status ${o}`, ["outputs", o, "running_status"], boolInput(["outputs", o, "running_status"], true)))),
    el("div", { "data-path": "panel" },
      field("LED brightness", ["panel", "brightness"], numberInput(["panel", "brightness"], "0.2")),
      field("long press ms", ["panel", "long_press_ms"], numberInput(["panel", "long_press_ms"], "600"))),
    el("div", { "data-path": "calibration" }, ch.jacks.map((j) => el("span", {},
      field(`${j} offset V`, ["calibration", j, "offset"], numberInput(["calibration", j, "offset"], "0")),
      field("scale", ["calibration", j, "scale"], numberInput(["calibration", j, "scale"], "1"))))),
    el("p", {}, "Calibration points and per-drum modes: edit them in the text below."));
}

function renderPreset() {
  const sec = $("preset");
  sec.replaceChildren();
  const list = presets();
  if (!list || !list[S.preset] || typeof list[S.preset] !== "object") {
    sec.append(el("p", {}, S.config ? "No presets to show: the text below is edited directly." : "The text below is not JSON yet: fix it there (the problems are listed above)."));
    return;
  }
  const base = ["presets", S.preset];
  const preset = list[S.preset];
  sec.append(...[
    el("div", { "data-path": pathOf(base) }, field("name", [...base, "name"], textInput([...base, "name"], `Preset ${S.preset + 1}`)), el("span", { class: "err" })),
    el("h2", {}, "Routing (click an empty crossing to add a route)"),
    el("div", { id: "matrix", "data-path": pathOf([...base, "routes"]) }),
    el("span", { class: "err" }),
    routesOf(preset).map(renderRoute),
    el("button", { type: "button", id: "add-route", onclick: () => {
      const routes = routesOf(preset);
      routes.push({ from: "in1", to: "out1" });
      S.route = routes.length - 1;
      edit([...base, "routes"], routes, true);
    } }, "+ route"),
    renderOnEnter(base), renderClock(base), renderCv(base), renderBox()].flat());
  renderMatrix();
  showProblems();
}

function renderAll() {
  renderTabs();
  renderPreset();
}

// -- checking as you type ------------------------------------------------------------------------------

let checkTimer = null;
let checkSeq = 0;
S.problems = { errors: [], warnings: [] };

function scheduleCheck() {
  clearTimeout(checkTimer);
  $("status").textContent = "checking...";
  $("status").className = "status";
  checkTimer = setTimeout(check, 150);
}

async function check() {
  const seq = ++checkSeq;
  const text = S.text;
  const [, verdict] = await api("/api/validate", { text });
  if (seq !== checkSeq) return; // a newer check is on its way
  S.problems = verdict;
  const n = verdict.errors.length;
  $("status").textContent = n ? `${n} problem${n === 1 ? "" : "s"}: the box would refuse this file` : "valid" + (verdict.warnings.length ? `, ${verdict.warnings.length} warning(s)` : "");
  $("status").className = "status " + (n ? "bad" : "good");
  showProblems();
  const [, words] = await api("/api/explain", { text });
  if (seq === checkSeq) $("words").textContent = words.error ? words.error : presetWords(words.lines);
}

// explain's lines for the preset shown (and the port names line).
function presetWords(lines) {
  const out = [];
  let preset = -1;
  for (const line of lines) {
    if (/^Preset \d+: /.test(line)) preset = parseInt(line.slice(7), 10) - 1;
    if (preset === -1 || preset === S.preset) out.push(line);
  }
  return out.join("\n");
}

// Each problem goes beside the field of its key path (or of the nearest enclosing one shown);
// the rest (other presets, text problems) are listed at the top.
function showProblems() {
  document.querySelectorAll("#preset .err").forEach((e) => (e.textContent = ""));
  const top = $("problems");
  top.replaceChildren();
  const place = (item, cls) => {
    let path = item.path;
    while (path) {
      const host = document.querySelector(`#preset [data-path="${CSS.escape(path)}"]`);
      if (host) {
        const slot = host.querySelector(":scope > .err") || host.parentElement.querySelector(":scope > .err");
        if (slot) {
          slot.textContent += (slot.textContent ? "; " : "") + item.message;
          slot.className = cls === "warn" ? "err warn" : "err";
          return;
        }
      }
      const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
      path = cut > 0 ? path.slice(0, cut) : "";
    }
    top.append(el("div", { class: cls }, (item.path ? item.path + ": " : "") + item.message));
  };
  S.problems.errors.forEach((e) => place(e, "err"));
  S.problems.warnings.forEach((w) => place(w, "warn"));
}

// -- the preview: the firmware on MicroPython in this page ----------------------------------------

let vmPromise = null;

function loadVm() {
  if (!vmPromise)
    vmPromise = (async () => {
      const { loadMicroPython } = await import("/vm/micropython.mjs");
      const mp = await loadMicroPython({ heapsize: 8 * 1024 * 1024, stdout: (line) => console.log(line), linebuffer: true });
      const [, files] = await api("/api/vm-files");
      for (const [path, text] of Object.entries(files)) {
        let dir = "";
        for (const part of path.split("/").slice(1, -1)) {
          dir += "/" + part;
          if (!mp.FS.analyzePath(dir).exists) mp.FS.mkdir(dir);
        }
        mp.FS.writeFile(path, text);
      }
      mp.runPython("import sys\nsys.path.insert(0, '/fw')\nimport preview");
      return mp;
    })();
  return vmPromise;
}

async function runPreview(request) {
  if (S.vm) {
    try {
      const mp = await loadVm();
      mp.FS.writeFile("/fw/request.json", JSON.stringify(request));
      mp.runPython("open('/fw/result.json', 'w').write(preview.run_json(open('/fw/request.json').read()))");
      return [JSON.parse(mp.FS.readFile("/fw/result.json", { encoding: "utf8" })), "the firmware on MicroPython in this page"];
    } catch (e) {
      console.error(e);
      S.vm = false; // fall back to the server for the rest of the session
    }
  }
  const [, result] = await api("/api/preview", request);
  return [result, "the firmware on the server (CPython): this page has no MicroPython VM"];
}

function phraseInputs() {
  return $("phrase-source").value === "demo" ? S.demo : S.phrase;
}

async function play() {
  const inputs = phraseInputs();
  if (!inputs) {
    $("preview-status").textContent = "choose a file first";
    return;
  }
  $("preview-status").textContent = "playing...";
  $("preview-status").className = "status";
  const started = performance.now();
  const [result, where] = await runPreview({ config: S.text, preset: S.preset, inputs, until_ms: null });
  if (result.failure) {
    $("preview-status").textContent = result.failure;
    $("preview-status").className = "status bad";
    return;
  }
  S.lastPreview = result;
  const refused = result.errors.length ? " The box refuses this config: it ran the safe default (everything merged)." : "";
  $("preview-status").textContent = `preset ${result.preset + 1}, ${(result.end_ms / 1000).toFixed(1)} s played by ${where} in ${((performance.now() - started) / 1000).toFixed(1)} s.${refused}`;
  $("preview-status").className = "status " + (refused ? "bad" : "good");
  showPreview();
}

function showPreview() {
  const result = S.lastPreview;
  if (!result) return;
  const clock = $("show-clock").checked;
  const box = $("preview-outputs");
  box.replaceChildren();
  for (const port of S.choices.midi_outputs) {
    const messages = result.outputs[port] || [];
    const shown = messages.filter(([, words]) => clock || words !== "Clock");
    box.append(el("div", { class: "outport", id: `out-${port}` },
      el("b", {}, `${portLabel(port)}: ${shown.length} message${shown.length === 1 ? "" : "s"}`),
      result.problems[port].length ? el("span", { class: "err" }, result.problems[port].join("; ")) : null,
      shown.length ? el("ol", {}, shown.map(([t, words]) => el("li", {}, `${t.toFixed(3).padStart(9)}  ${words}`))) : null));
  }
  $("preview-plot").replaceChildren(plot(result));
}

const NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
const NOTE_0V = 24; // firmware/cv_setup.py NOTE_0V: 1 V/oct, 0 V at note 24
const SIGNAL_ORDER = ["cv1", "cv2", "cv3", "cv4", "mod1", "mod2", "mod3", "mod4", "gate1", "gate2", "gate3", "gate4",
  "drum1", "drum2", "drum3", "drum4", "drum5", "drum6", "drum7", "drum8", "clock", "reset", "run"];

// The jacks that moved, one row each, as step lines over the played time; pitch jacks carry the
// name of the note they settle on.
function plot(result) {
  const NS = "http://www.w3.org/2000/svg";
  const names = SIGNAL_ORDER.filter((n) => n in result.signals);
  const W = 540, L = 50, H = 34, top = 10;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("width", W + L + 10);
  svg.setAttribute("height", top + H * names.length + 24);
  svg.setAttribute("id", "plot-svg");
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  const x = (t) => L + (t / result.end_ms) * W;
  names.forEach((name, row) => {
    const points = result.signals[name];
    const full = name.startsWith("cv") ? 8.2 : 5.2;
    const y = (v) => top + row * H + H - 4 - (v / full) * (H - 8);
    let d = `M ${x(0)} ${y(points[0][1])}`;
    let lastLabel = -1e9;
    points.forEach(([t, v], k) => {
      d += ` H ${x(t)} V ${y(v)}`;
      const note = NOTE_0V + v * 12;
      if (name.startsWith("cv") && k > 0 && Math.abs(note - Math.round(note)) < 0.05 && x(t) - lastLabel > 24) {
        const n = Math.round(note);
        add("text", { x: x(t) + 1, y: y(v) - 2, fill: "#1565c0" }, NOTE_NAMES[n % 12] + (Math.floor(n / 12) - 1));
        lastLabel = x(t);
      }
    });
    d += ` H ${x(result.end_ms)}`;
    add("text", { x: 2, y: top + row * H + H / 2 + 3 }, name);
    add("path", { d, fill: "none", stroke: name.startsWith("gate") || name.startsWith("drum") ? "#2e7d32" : name.startsWith("cv") || name.startsWith("mod") ? "#1565c0" : "#e65100", "stroke-width": 1 });
  });
  add("text", { x: L, y: top + H * names.length + 16 }, names.length ? `0 ms` : "no jack moved");
  if (names.length) add("text", { x: L + W - 60, y: top + H * names.length + 16 }, `${Math.round(result.end_ms)} ms`);
  return svg;
}

async function loadPhraseFile(dropped) {
  const file = dropped || $("phrase-file").files[0];
  if (!file) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  bytes.forEach((b) => (binary += String.fromCharCode(b)));
  const [status, answer] = await api("/api/input", { name: file.name, base64: btoa(binary) });
  if (status !== 200) {
    $("preview-status").textContent = `${file.name}: ${answer.error}`;
    $("preview-status").className = "status bad";
    S.phrase = null;
    return;
  }
  S.phrase = { [$("phrase-port").value]: answer.text };
  $("preview-status").textContent = `${file.name} into ${$("phrase-port").value}: ready`;
  $("preview-status").className = "status";
}

// -- start ------------------------------------------------------------------------------------------------

async function save() {
  $("status").textContent = "saving...";
  const [status, answer] = await api("/api/save", { text: S.text });
  if (status === 200) {
    $("status").textContent = `saved ${answer.path}`;
    $("status").className = "status good";
  } else {
    S.problems = { errors: answer.errors, warnings: [] };
    showProblems();
    $("status").textContent = "not saved: " + answer.errors.map((e) => (e.path ? e.path + ": " : "") + e.message).join("; ");
    $("status").className = "status bad";
  }
}

function textEdited() {
  S.text = $("json").value;
  try {
    S.config = JSON.parse(S.text);
  } catch {
    S.config = null;
  }
  if (S.preset >= (presets() || [null]).length) S.preset = 0;
  renderAll();
  scheduleCheck();
}

async function start() {
  const [, state] = await api("/api/state");
  Object.assign(S, { choices: state.choices, demo: state.demo, vm: state.vm, text: state.text });
  $("file").textContent = state.path + (state.exists ? "" : " (new: the default config until saved)");
  if (S.text.startsWith("\ufeff")) { // JSON.parse refuses a byte order mark: Save writes the text without it
    S.text = S.text.slice(1);
    $("file").textContent += " (its byte order mark is left out: Save writes the file without it)";
  }
  $("json").value = S.text;
  try {
    S.config = JSON.parse(S.text);
  } catch {
    S.config = null;
  }
  $("phrase-port").append(...state.choices.inputs.map((p) => el("option", { value: p }, p)));
  $("phrase-source").addEventListener("change", () => ($("phrase-file-box").hidden = $("phrase-source").value !== "file"));
  $("phrase-file").addEventListener("change", () => loadPhraseFile());
  // A .mid or .txt dropped anywhere on the preview side plays into the chosen input.
  $("side").addEventListener("dragover", (e) => e.preventDefault());
  $("side").addEventListener("drop", (e) => {
    e.preventDefault();
    const file = e.dataTransfer.files[0];
    if (!file) return;
    $("phrase-source").value = "file";
    $("phrase-file-box").hidden = false;
    loadPhraseFile(file);
  });
  $("phrase-port").addEventListener("change", () => {
    if (S.phrase) S.phrase = { [$("phrase-port").value]: Object.values(S.phrase)[0] };
  });
  $("show-clock").addEventListener("change", showPreview);
  $("play").addEventListener("click", play);
  $("save").addEventListener("click", save);
  $("json").addEventListener("input", textEdited);
  renderAll();
  scheduleCheck();
  document.body.dataset.ready = "1";
}

start();
