// Hosts the Worker's Python in the same Pyodide that Cloudflare's Python Workers run (0.28.2),
// with the real `workers` SDK, for local serving (serve.mjs) and in-Pyodide tests (pytest.mjs).
// Current workerd fetches its Pyodide bundle from the network at start-up, so it cannot run
// offline; the two JS modules below stand in for the ones workerd itself provides.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadPyodide } from "pyodide";
import { ROOT, workerSources } from "./stage.mjs";

export const WHEEL_DIR = join(ROOT, ".prism", "wheels");
export const WORKER_DIR = "/prism/worker";
export const SDK_WHEELS = ["workers_runtime_sdk"];
export const PYTEST_WHEELS = ["pytest", "pluggy", "iniconfig", "pygments", "packaging"];

const PATCHED = Symbol("prism.waitUntilPatched");

export function log(...parts) {
  console.error(`[edge ${new Date().toISOString()}]`, ...parts);
}

// workerd's helper module, reduced to what the SDK touches on the fetch path.
function entrypointHelper() {
  return {
    patchWaitUntil(ctx) {
      if (ctx[PATCHED]) return;
      const original = ctx.waitUntil.bind(ctx);
      // Python hands over a borrowed proxy that is destroyed as soon as this call returns, so
      // it must be subscribed to now; doing it later fails with "borrowed proxy destroyed".
      ctx.waitUntil = (work) =>
        original(
          typeof work?.then === "function"
            ? new Promise((resolve, reject) => work.then(resolve, reject))
            : Promise.resolve(work),
        );
      ctx[PATCHED] = true;
    },
    cloudflareWorkersModule: {},
    cloudflareSocketsModule: {},
    doAnImport: (name) => import(name),
    patch_env_helper() {
      throw new Error("patch_env is not supported by the local edge host");
    },
  };
}

// Node's fetch cancels a response body nobody has started reading once its Response object is
// garbage-collected (undici's FinalizationRegistry); workerd does not. A Worker passing an
// origin response through keeps only its body, so under load a collection between the fetch
// and the first read handed the client a 200 with an empty body. Each body here is locked at
// once, piped through an identity stream, which that registry leaves alone.
const WORKERD_FETCH = Symbol("prism.workerdFetch");

export function workerdFetch(nodeFetch) {
  if (nodeFetch[WORKERD_FETCH]) return nodeFetch;
  const wrapped = async (input, init) => {
    const response = await nodeFetch(input, init);
    if (!response.body) return response;
    const { status, statusText, headers } = response;
    return new Response(response.body.pipeThrough(new TransformStream()), {
      status,
      statusText,
      headers,
    });
  };
  wrapped[WORKERD_FETCH] = true;
  return wrapped;
}

function installWheels(pyodide, names) {
  const sitePackages = pyodide.runPython("import site; site.getsitepackages()[0]");
  const files = readdirSync(WHEEL_DIR);
  for (const name of names) {
    const file = files.find((f) => f.startsWith(`${name}-`) && f.endsWith(".whl"));
    if (!file) throw new Error(`no ${name} wheel in ${WHEEL_DIR}; run scripts/bootstrap.sh`);
    // unpackArchive rejects a Node Buffer; it wants a plain typed array.
    const bytes = new Uint8Array(readFileSync(join(WHEEL_DIR, file)));
    pyodide.unpackArchive(bytes, "wheel", { extractDir: sitePackages });
  }
}

export function copyTree(pyodide, files, targetDir) {
  for (const [relPath, hostPath] of files) {
    const target = `${targetDir}/${relPath}`;
    pyodide.FS.mkdirTree(target.slice(0, target.lastIndexOf("/")));
    pyodide.FS.writeFile(target, readFileSync(hostPath));
  }
}

// A Pyodide with the SDK, the stub modules and the Worker's modules importable (`entry`, ...).
export async function startPython({ wheels = SDK_WHEELS, env = {} } = {}) {
  globalThis.fetch = workerdFetch(globalThis.fetch);
  const pyodide = await loadPyodide({ env: { HOME: "/home/pyodide", ...env } });
  // Raw byte writes, so partial lines (pytest's progress dots) print as Python wrote them.
  pyodide.setStdout({ write: (bytes) => process.stdout.write(bytes) && bytes.length });
  pyodide.setStderr({ write: (bytes) => process.stderr.write(bytes) && bytes.length });
  installWheels(pyodide, wheels);
  pyodide.registerJsModule("_pyodide_entrypoint_helper", entrypointHelper());
  pyodide.registerJsModule("_cloudflare_compat_flags", {
    python_workflows_implicit_dependencies: true,
    python_request_headers_preserve_commas: true,
  });
  copyTree(pyodide, workerSources(), WORKER_DIR);
  pyodide.runPython(
    `import sys; sys.dont_write_bytecode = True; sys.path.insert(0, ${JSON.stringify(WORKER_DIR)})`,
  );
  return pyodide;
}

// The Worker's `env`: each binding the Python side reads, when the host has a value for it.
export function workerEnv(pyodide, values) {
  const names = pyodide.pyimport("edge.config").BINDINGS.toJs();
  const present = names.filter((name) => typeof values[name] === "string");
  return Object.fromEntries(present.map((name) => [name, values[name]]));
}

// An ExecutionContext whose waitUntil work is tracked until it settles; failures are reported
// and kept, so tests can assert on them.
const logFailure = (err) => log("waitUntil task failed:", String(err?.message || err));

export function createExecutionContext(report = logFailure) {
  const pending = new Set();
  const failures = [];
  const ctx = {
    waitUntil(work) {
      const failed = (err) => {
        failures.push(err);
        report(err);
      };
      const tracked = Promise.resolve(work)
        .then(() => undefined, failed)
        .finally(() => pending.delete(tracked));
      pending.add(tracked);
    },
    passThroughOnException() {},
    props: {},
  };
  const settled = async () => {
    // Work may schedule more work, so wait until nothing is left.
    while (pending.size > 0) await Promise.all([...pending]);
  };
  return { ctx, settled, failures };
}
