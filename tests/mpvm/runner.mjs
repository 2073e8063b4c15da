#!/usr/bin/env node
// Run a job in MicroPython (WebAssembly build, @micropython/micropython-webassembly-pyscript)
// under node, for Thruway's tests (tests/mpvm.py is the Python side).
//
// Usage:  node runner.mjs [job.json]      (no argument or "-": the job is read from stdin)
//
// Job (JSON):
//   files       {"/fw/firmware/x.py": "...source...", ...}  written into the VM's file system
//               (directories are created)
//   sys_path    ["/fw", ...]   put at the front of sys.path, in this order
//   prelude     "python source"  optional, run before the scripts (its own runPython call)
//   script      "python source"  or
//   scripts     ["python source", ...]  run one after the other in the same VM; each is its own
//               runPython call (see the note on garbage collection in tests/mpvm.py)
//   heapsize    initial GC heap in bytes (default 196608). NOTE: this build's heap is split and
//               grows on demand, so this does not cap memory: measure it (gc.mem_alloc()).
//   pystack     pystack size in words (default 2048, the package default)
//   timeout_ms  wall-clock limit for the whole job (default 60000)
//
// Output: the VM's stdout on stdout, its stderr on stderr, as they come (line by line).
// Exit status: 0 all scripts ran; 1 a Python exception escaped (the traceback is on stderr);
// 2 a runner or job error; 3 the job ran out of time (the VM was stopped; message on stderr).
// The VM runs in a worker thread so that a VM that never returns (for example an allocation
// inside micropython.heap_lock() that escapes to the top level spins forever in this build) can be
// stopped from the main thread.

import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { readFileSync } from "node:fs";

const EXIT_OK = 0;
const EXIT_PYTHON_ERROR = 1;
const EXIT_RUNNER_ERROR = 2;
const EXIT_TIMEOUT = 3;

if (isMainThread) {
  await main();
} else {
  await vmWorker(workerData);
}

function finish(code) {
  // Let pending writes drain before leaving.
  process.stdout.write("", () => {
    process.stderr.write("", () => process.exit(code));
  });
}

async function main() {
  let job;
  try {
    const arg = process.argv[2];
    const text = !arg || arg === "-" ? readFileSync(0, "utf8") : readFileSync(arg, "utf8");
    job = JSON.parse(text);
    if (typeof job !== "object" || job === null) throw new Error("the job must be a JSON object");
    if (job.script === undefined && job.scripts === undefined) throw new Error("the job has no script");
  } catch (e) {
    process.stderr.write(`mpvm runner: bad job: ${e.message}\n`);
    finish(EXIT_RUNNER_ERROR);
    return;
  }
  const timeoutMs = job.timeout_ms ?? 60000;
  let done = false;
  const worker = new Worker(new URL(import.meta.url), { workerData: job });
  const timer = setTimeout(() => {
    if (done) return;
    done = true;
    process.stderr.write(
      `mpvm runner: TIMEOUT: the MicroPython VM did not finish within ${timeoutMs} ms ` +
        `(an endless loop, or an allocation under micropython.heap_lock()); stopped\n`,
    );
    worker.terminate().finally(() => finish(EXIT_TIMEOUT));
  }, timeoutMs);
  worker.on("message", (msg) => {
    if (msg.kind === "out") process.stdout.write(Buffer.from(msg.data));
    else if (msg.kind === "err") process.stderr.write(Buffer.from(msg.data));
    else if (msg.kind === "done" && !done) {
      done = true;
      clearTimeout(timer);
      if (msg.status === "pyerror") process.stderr.write(msg.traceback.endsWith("\n") ? msg.traceback : msg.traceback + "\n");
      else if (msg.status === "error") process.stderr.write(`mpvm runner: ${msg.error}\n`);
      const code = msg.status === "ok" ? EXIT_OK : msg.status === "pyerror" ? EXIT_PYTHON_ERROR : EXIT_RUNNER_ERROR;
      worker.terminate().finally(() => finish(code));
    }
  });
  worker.on("error", (e) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    process.stderr.write(`mpvm runner: worker failed: ${e && e.stack ? e.stack : e}\n`);
    finish(EXIT_RUNNER_ERROR);
  });
  worker.on("exit", (code) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    process.stderr.write(`mpvm runner: worker exited unexpectedly (code ${code})\n`);
    finish(EXIT_RUNNER_ERROR);
  });
}

// A byte sink that forwards whole lines (or 4 KB chunks) to the main thread.
function makeSink(kind) {
  let buf = [];
  const flush = () => {
    if (buf.length) {
      parentPort.postMessage({ kind, data: Uint8Array.from(buf) });
      buf = [];
    }
  };
  const write = (bytes) => {
    for (const b of bytes) {
      buf.push(b);
      if (b === 10 || buf.length >= 4096) flush();
    }
  };
  return { write, flush };
}

function mkdirs(FS, dir) {
  let path = "";
  for (const part of dir.split("/").filter((p) => p)) {
    path += "/" + part;
    if (!FS.analyzePath(path).exists) FS.mkdir(path);
  }
}

async function vmWorker(job) {
  const out = makeSink("out");
  const err = makeSink("err");
  const flushAll = () => {
    out.flush();
    err.flush();
  };
  try {
    const { loadMicroPython } = await import("@micropython/micropython-webassembly-pyscript");
    const mp = await loadMicroPython({
      heapsize: job.heapsize ?? 196608,
      pystack: job.pystack ?? 2048,
      stdout: (bytes) => out.write(bytes),
      stderr: (bytes) => err.write(bytes),
      linebuffer: false,
    });
    for (const [path, text] of Object.entries(job.files ?? {})) {
      if (!path.startsWith("/")) throw new Error(`file path must be absolute: ${path}`);
      mkdirs(mp.FS, path.slice(0, path.lastIndexOf("/")));
      mp.FS.writeFile(path, text);
    }
    const sysPath = job.sys_path ?? [];
    const steps = [];
    if (sysPath.length) {
      steps.push(
        `import sys\nfor _p in reversed(${JSON.stringify(sysPath)}):\n    sys.path.insert(0, _p)\ndel _p\n`,
      );
    }
    if (job.prelude) steps.push(job.prelude);
    if (job.script !== undefined) steps.push(job.script);
    for (const s of job.scripts ?? []) steps.push(s);
    for (const code of steps) {
      try {
        mp.runPython(code);
      } catch (e) {
        flushAll();
        if (e && e.name === "PythonError") {
          parentPort.postMessage({ kind: "done", status: "pyerror", type: e.type, traceback: e.message });
        } else {
          parentPort.postMessage({ kind: "done", status: "error", error: String(e && e.stack ? e.stack : e) });
        }
        return;
      }
    }
    flushAll();
    parentPort.postMessage({ kind: "done", status: "ok" });
  } catch (e) {
    flushAll();
    parentPort.postMessage({ kind: "done", status: "error", error: String(e && e.stack ? e.stack : e) });
  }
}
