// Runs tests/edge_pyodide/ with pytest inside the Workers Pyodide and exits with pytest's code.
//
//   node --experimental-wasm-stack-switching edge/runtime/pytest.mjs [pytest args...]
//
// The flag gives Node 20 JSPI, which `pyodide.ffi.run_sync` needs to drive async tests from
// pytest's synchronous hooks (pytest-asyncio's loop handling fails on Pyodide's WebLoop).
// PRISM_* environment variables are passed into Python's os.environ, e.g. a loopback server
// the CPython side started for these tests.
import { readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { ROOT } from "./stage.mjs";
import {
  PYTEST_WHEELS,
  SDK_WHEELS,
  copyTree,
  createExecutionContext,
  startPython,
} from "./pyodide_host.mjs";

const TEST_DIR = join(ROOT, "tests", "edge_pyodide");
const TARGET = "/prism/tests/edge_pyodide";

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((item) => {
    const path = join(dir, item.name);
    if (item.isDirectory()) return item.name === "__pycache__" ? [] : testFiles(path);
    return item.name.endsWith(".py") ? [[relative(TEST_DIR, path).split(sep).join("/"), path]] : [];
  });
}

async function main() {
  if (typeof WebAssembly.Suspender !== "function" && typeof WebAssembly.Suspending !== "function") {
    console.error("pytest.mjs needs JSPI: run it as node --experimental-wasm-stack-switching ...");
    process.exit(2);
  }
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => name.startsWith("PRISM_")),
  );
  const pyodide = await startPython({ wheels: [...SDK_WHEELS, ...PYTEST_WHEELS], env });
  copyTree(pyodide, testFiles(TEST_DIR), TARGET);
  // Tests drive the Worker with the same execution context serve.mjs gives each request.
  pyodide.registerJsModule("_prism_host", { createExecutionContext });
  // No cache dir and no config lookup beyond the copied tests: the FS is throwaway.
  const args = ["-p", "no:cacheprovider", "--rootdir", TARGET, TARGET, ...process.argv.slice(2)];
  pyodide.FS.chdir("/prism");
  const pytestMain = pyodide.pyimport("pytest").main;
  const code = await pytestMain.callPromising(pyodide.toPy(args));
  process.exit(Number(code));
}

main().catch((err) => {
  console.error(err?.stack ?? err);
  process.exit(2);
});
