// Serves the Python Worker locally the way Workers would: one `Default(ctx, env).fetch(request)`
// per incoming request, the response streamed back as it is produced, waitUntil work run on.
//
//   node edge/runtime/serve.mjs --port 8787 --origin http://127.0.0.1:8000 [--host 127.0.0.1]
//
// The other bindings (SUPABASE_URL, UPSTASH_*, ...) come from environment variables of the same
// name; --origin wins over ORIGIN_URL.
import { createServer } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { constants, createBrotliCompress, createDeflate, createGzip } from "node:zlib";
import { createExecutionContext, log, startPython, workerEnv } from "./pyodide_host.mjs";

// How long shutdown waits for waitUntil work, as Workers bounds it after the response.
const WAIT_UNTIL_GRACE_MS = 30_000;
const BODYLESS = new Set(["GET", "HEAD"]);
// A request body the Worker left unread (say, refused with a 413 from its Content-Length) is
// read and discarded after the response, as the platform does, so the client still sending it
// gets the answer instead of a reset connection; past this many bytes the connection is cut.
const DISCARD_LIMIT_BYTES = 64 * 1024 * 1024;

function toRequest(req) {
  const url = new URL(req.url, `http://${req.headers.host ?? "127.0.0.1"}`);
  const headers = new Headers();
  // rawHeaders keeps repeats and order, which req.headers folds away.
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  const init = { method: req.method, headers };
  if (!BODYLESS.has(req.method)) Object.assign(init, { body: Readable.toWeb(req), duplex: "half" });
  return new Request(url, init);
}

// Fetch hands the Worker decoded bodies while keeping Content-Encoding, and the Workers runtime
// re-encodes such a body on the way out; this does the same, flushing each chunk for streams.
function encoderFor(contentEncoding) {
  const flush = { flush: constants.Z_SYNC_FLUSH };
  const encoding = (contentEncoding ?? "").trim().toLowerCase();
  if (encoding === "gzip") return createGzip(flush);
  if (encoding === "deflate") return createDeflate(flush);
  if (encoding === "br") return createBrotliCompress({ flush: constants.BROTLI_OPERATION_FLUSH });
  return null;
}

function nodeHeaders(response, dropLength) {
  const out = {};
  for (const [name, value] of response.headers) {
    if (name === "set-cookie" || (dropLength && name === "content-length")) continue;
    out[name] = value;
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) out["set-cookie"] = cookies;
  return out;
}

async function send(res, response) {
  const encoder = response.body ? encoderFor(response.headers.get("content-encoding")) : null;
  res.writeHead(response.status, nodeHeaders(response, encoder !== null));
  if (!response.body) return void res.end();
  res.flushHeaders();
  const source = Readable.fromWeb(response.body);
  await (encoder ? pipeline(source, encoder, res) : pipeline(source, res));
}

async function discardUnread(req, request) {
  const body = request?.body;
  if (req.complete || !body || body.locked) return;
  const reader = body.getReader();
  let seen = 0;
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      seen += r.value.byteLength;
      if (seen > DISCARD_LIMIT_BYTES) return void req.destroy();
    }
  } catch {
    // The client went away mid-body: nothing left to discard.
  } finally {
    reader.releaseLock();
  }
}

function failure(res, err) {
  log("request failed:", err?.message ?? err);
  if (res.headersSent) return void res.destroy();
  const error = {
    message: "The Prism edge failed to handle the request.",
    type: "api_error",
    code: "internal_error",
    param: null,
  };
  res.writeHead(500, { "content-type": "application/json" });
  res.end(JSON.stringify({ error }));
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "8787" },
      host: { type: "string", default: "127.0.0.1" },
      origin: { type: "string" },
    },
  });
  const pyodide = await startPython();
  const entry = pyodide.pyimport("entry");
  const overrides = values.origin ? { ORIGIN_URL: values.origin } : {};
  const env = workerEnv(pyodide, { ...process.env, ...overrides });
  const inFlight = new Set();

  // One Worker instance per request, as Workers does; a request counts as in flight until
  // both its response and its waitUntil work are done.
  const serveOne = async (req, res) => {
    const { ctx, settled } = createExecutionContext();
    let worker;
    let request;
    try {
      worker = entry.Default(ctx, env);
      request = toRequest(req);
      const result = await worker.fetch(request);
      const response = result.js_object;
      result.destroy();
      await send(res, response);
    } catch (err) {
      failure(res, err);
    } finally {
      worker?.destroy();
    }
    await discardUnread(req, request);
    await settled();
  };
  const server = createServer((req, res) => {
    const done = serveOne(req, res).finally(() => inFlight.delete(done));
    inFlight.add(done);
  });

  const stop = async (signal) => {
    log(`${signal}: waiting for ${inFlight.size} request(s) and their background work`);
    server.close();
    const grace = new Promise((resolve) => setTimeout(resolve, WAIT_UNTIL_GRACE_MS).unref());
    await Promise.race([Promise.all([...inFlight]), grace]);
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  server.listen(Number(values.port), values.host, () => {
    log(`listening on http://${values.host}:${values.port}`);
  });
}

main().catch((err) => {
  log("failed to start:", err?.stack ?? err);
  process.exit(1);
});
