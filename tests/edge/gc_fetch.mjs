// Fetches through the edge host's fetch, lets the Response go and forces two garbage
// collections before the body is read, as a loaded host may between a Worker's fetch and the
// first read of the body it passes through. Prints how many of the bodies arrived whole.
// node --expose-gc tests/edge/gc_fetch.mjs
import { createServer } from "node:http";
import { workerdFetch } from "../../edge/runtime/pyodide_host.mjs";

const SIZE = 100_000;
const ROUNDS = 10;
const server = createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain", "x-mark": "kept" });
  setTimeout(() => res.end("x".repeat(SIZE)), 20);
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${server.address().port}/`;
const hostFetch = workerdFetch(fetch);

async function bodyOnly() {
  const reply = await hostFetch(url);
  return { body: reply.body, status: reply.status, mark: reply.headers.get("x-mark") };
}

let whole = 0;
for (let i = 0; i < ROUNDS; i++) {
  const { body, status, mark } = await bodyOnly();
  // Finalisers run in a later task than the collection: let them.
  for (let n = 0; n < 2; n++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    globalThis.gc();
  }
  await new Promise((resolve) => setTimeout(resolve, 10));
  let bytes = 0;
  for await (const chunk of body) bytes += chunk.byteLength;
  if (bytes === SIZE && status === 200 && mark === "kept") whole += 1;
}
server.close();
console.log(JSON.stringify({ whole, rounds: ROUNDS }));
