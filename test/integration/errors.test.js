"use strict";
// Connection errors a user can see: 'error' events on the factory, on io.of(nsp).adapter and on the
// client; exactly one warning per client when nobody listens anywhere; requests that reject instead of
// waiting; and the DEBUG namespaces the README documents.
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { execFile } = require("node:child_process");
const { Server } = require("socket.io");
const { freePort } = require("../helpers/redis");
const { waitFor, sleep } = require("../helpers/util");
const { createAdapter, createShardedAdapter, createClient } = require("../..");

describe("connection errors a user can see", function () {
  this.timeout(10000);
  const closers = [];
  let warnings, warn;

  beforeEach(function () {
    warnings = [];
    warn = console.warn;
    console.warn = (...args) => warnings.push(args.join(" "));
  });

  afterEach(async function () {
    console.warn = warn;
    for (const fn of closers.splice(0).reverse()) await fn();
  });

  async function deadTarget() {
    return { host: "127.0.0.1", port: await freePort(), retryBase: 10, retryMax: 40 };
  }

  function serverWith(factory) {
    const io = new Server(0, { adapter: factory }); // port 0: an HTTP server on a free port
    closers.push(() => new Promise((r) => io.close(() => r())));
    return io;
  }

  for (const [name, create] of [
    ["createAdapter", createAdapter],
    ["createShardedAdapter", createShardedAdapter],
  ]) {
    for (const where of ["factory", "adapter", "client"]) {
      it(`${name}: an 'error' listener on the ${where} gets ECONNREFUSED, and no warning is printed`, async function () {
        const factory = create(await deadTarget());
        const got = [];
        const listen = (emitter) => emitter.on("error", (err) => got.push(err));
        if (where === "factory") assert.equal(listen(factory), factory, "factory.on returns the factory");
        const io = serverWith(factory);
        if (where === "adapter") listen(io.of("/").adapter);
        if (where === "client") listen(factory.client);
        await waitFor(() => got.length >= 3, 5000, { what: "three error events" });
        assert.equal(got[0].code, "ECONNREFUSED");
        assert.ok(["command", "subscriber"].includes(got[0].role));
        assert.deepEqual(warnings, []);
        // Requests reject instead of waiting for Redis: at once (ENOTCONN) on the classic adapter, after
        // the timeout with the base class's message on the sharded one (its serverCount never rejects).
        if (name === "createAdapter") await assert.rejects(io.fetchSockets(), { code: "ENOTCONN" });
        else await assert.rejects(io.timeout(200).fetchSockets(), /timeout reached/);
      });
    }
  }

  it("without any listener: one warning per client, however many errors", async function () {
    const factory = createAdapter(await deadTarget());
    const io = serverWith(factory);
    let reconnects = 0;
    factory.client.on("reconnecting", () => reconnects++);
    await waitFor(() => reconnects >= 10, 5000, { what: "ten reconnect attempts" });
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], /^socket\.io-hiredis-adapter: missing 'error' handler on this Redis client \(ECONNREFUSED: /);
    // A second namespace shares the client: still one warning.
    io.of("/other");
    await sleep(200);
    assert.equal(warnings.length, 1);
  });

  it("a listener added after the warning gets the later errors", async function () {
    const client = createClient(await deadTarget());
    closers.push(() => client.close());
    await waitFor(() => warnings.length === 1, 3000, { what: "the warning" });
    const got = [];
    client.on("error", (err) => got.push(err.code));
    await waitFor(() => got.length >= 2, 3000, { what: "error events" });
    assert.equal(warnings.length, 1);
  });

  it("a factory stops re-emitting once its adapters are closed", async function () {
    const client = createClient(await deadTarget());
    closers.push(() => client.close());
    client.on("error", () => {});
    const factory = createAdapter(client);
    const got = [];
    factory.on("error", (err) => got.push(err));
    const io = new Server(0, { adapter: factory });
    await waitFor(() => got.length >= 1, 3000, { what: "an error on the factory" });
    await new Promise((r) => io.close(() => r()));
    const n = got.length;
    await sleep(300);
    assert.equal(got.length, n);
  });

  it("DEBUG=socket.io-hiredis-adapter:* traces connection events on stderr", async function () {
    const { port } = await deadTarget();
    const script = `
      const { createClient } = require(${JSON.stringify(path.join(__dirname, "..", ".."))});
      const c = createClient({ host: "127.0.0.1", port: ${port}, retryBase: 10, retryMax: 20 });
      c.on("error", () => {});
      setTimeout(() => c.close(), 300);`;
    const r = await new Promise((resolve) =>
      execFile(process.execPath, ["-e", script], { timeout: 8000, env: { ...process.env, DEBUG: "socket.io-hiredis-adapter:*", DEBUG_COLORS: "0" } }, (err, stdout, stderr) =>
        resolve({ err, stdout, stderr }),
      ),
    );
    assert.equal(r.err, null, r.stderr);
    assert.match(r.stderr, /socket\.io-hiredis-adapter:client command error ECONNREFUSED/);
    assert.match(r.stderr, /socket\.io-hiredis-adapter:client subscriber reconnecting \d+/);
  });

  it("the README's DEBUG table lists exactly the namespaces the code uses", function () {
    const root = path.join(__dirname, "..", "..");
    const used = new Set();
    for (const f of fs.readdirSync(path.join(root, "lib")).filter((f) => f.endsWith(".js"))) {
      for (const m of fs.readFileSync(path.join(root, "lib", f), "utf8").matchAll(/require\("debug"\)\("([^"]+)"\)/g)) used.add(m[1]);
    }
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### Debugging"), readme.indexOf("\n## ", readme.indexOf("### Debugging")));
    const documented = new Set([...section.matchAll(/^\| `(socket\.io-hiredis-adapter[^`]*)` \|/gm)].map((m) => m[1]));
    assert.ok(used.size >= 5);
    assert.deepEqual([...documented].sort(), [...used].sort());
  });
});
