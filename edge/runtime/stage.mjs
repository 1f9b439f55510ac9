// The Worker's Python sources, laid out exactly as the deployed bundle sees them:
//   entry.py       <- edge/entry.py (wrangler's `main`)
//   edge/...       <- every other .py under edge/, except this Node runtime
//   shared/...     <- the stdlib-only core shared with the origin
// wrangler's [build] runs this file as a CLI; pyodide_host.mjs copies the same listing into
// Pyodide, so local runs and tests see precisely what would be deployed.
import { existsSync, mkdirSync, readdirSync, rmSync, copyFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

function pythonFiles(dir, skip = () => false) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((item) => {
    const path = join(dir, item.name);
    if (item.name.startsWith(".") || item.name === "__pycache__" || skip(path)) return [];
    if (item.isDirectory()) return pythonFiles(path, skip);
    return item.isFile() && item.name.endsWith(".py") ? [path] : [];
  });
}

// Map of bundle path (always "/"-separated) to host path.
export function workerSources(root = ROOT) {
  const edge = join(root, "edge");
  const sources = new Map([["entry.py", join(edge, "entry.py")]]);
  const notShipped = (path) => path === join(edge, "runtime") || path === join(edge, "entry.py");
  for (const path of pythonFiles(edge, notShipped)) {
    sources.set(relative(root, path).split(sep).join("/"), path);
  }
  for (const path of pythonFiles(join(root, "shared"))) {
    sources.set(relative(root, path).split(sep).join("/"), path);
  }
  return sources;
}

export function stage(outDir, root = ROOT) {
  // The folder is wiped first; refuse anything that holds the sources themselves.
  const holds = (dir) => relative(outDir, dir) === "" || !relative(outDir, dir).startsWith("..");
  if ([root, join(root, "edge"), join(root, "shared")].some(holds)) {
    throw new Error(`refusing to stage into ${outDir}: it holds the Worker's sources`);
  }
  rmSync(outDir, { recursive: true, force: true });
  for (const [bundlePath, hostPath] of workerSources(root)) {
    const target = join(outDir, ...bundlePath.split("/"));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(hostPath, target);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = resolve(process.argv[2] ?? join(ROOT, ".edge-build"));
  stage(outDir);
  const where = relative(process.cwd(), outDir) || ".";
  console.log(`staged ${workerSources().size} Worker modules into ${where}`);
}
