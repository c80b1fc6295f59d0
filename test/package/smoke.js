"use strict";
// Smoke check of an installed package (run by scripts/test-package.sh from a fresh directory where the
// packed tarball was installed): two Socket.IO servers with createAdapter on one Redis (REDIS_URL), a
// socket.io-client on server A receives a broadcast sent from server B, and one from an Emitter (over TLS, with
// Node's own OpenSSL, when REDIS_TLS_URL and REDIS_TLS_CA are set). Prints which native binary was
// loaded and fails unless it is the expected kind (EXPECT=prebuild|source). Exits by itself: every
// handle is closed, nothing calls process.exit on success.
const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");

const expect = process.env.EXPECT;
const started = Date.now();
const pkg = require.resolve("socket.io-hiredis-adapter");
const { createAdapter, Emitter } = require("socket.io-hiredis-adapter");
const { Server } = require("socket.io");
const { io: connect } = require("socket.io-client");

// The .node files this process has mapped: the binary actually loaded, whatever the loader says.
const mapped = [
  ...new Set(
    fs
      .readFileSync("/proc/self/maps", "utf8")
      .split("\n")
      .map((l) => l.slice(l.indexOf("/")))
      .filter((f) => f.endsWith(".node")),
  ),
];
console.log(`package: ${path.dirname(path.dirname(pkg))}`);
console.log(`node ${process.version} loaded: ${mapped.join(", ")} (require took ${Date.now() - started} ms)`);
const fail = (msg) => {
  console.error(`FAIL: ${msg}`);
  process.exitCode = 1;
};
if (mapped.length !== 1) fail(`expected exactly one native binary, got ${mapped.length}`);
else if (expect === "prebuild" && !/\/prebuilds\/linux-x64\/node\.napi\.glibc\.node$/.test(mapped[0])) fail("the prebuilt binary was not used");
else if (expect === "source" && !/\/build\/Release\/hiredis_adapter\.node$/.test(mapped[0])) fail("the source build was not used");
if (mapped.some((f) => f.includes("hiredis_adapter_test"))) fail("the test addon is in the package");

function listen(server) {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
}

const tlsTarget = process.env.REDIS_TLS_URL ? { url: process.env.REDIS_TLS_URL, tls: { ca: fs.readFileSync(process.env.REDIS_TLS_CA) } } : null;

async function main() {
  const url = process.env.REDIS_URL;
  const servers = [];
  for (let i = 0; i < 2; i++) {
    const httpServer = http.createServer();
    const io = new Server(httpServer, { adapter: createAdapter(url) });
    const port = await listen(httpServer);
    servers.push({ io, port });
  }
  for (const { io } of servers) io.of("/").adapter.on("error", (err) => fail(`adapter error ${err.code}`));
  const client = connect(`http://127.0.0.1:${servers[0].port}`, { transports: ["websocket"] });
  const timer = setTimeout(() => {
    fail("no broadcast within 15 s");
    shutdown();
  }, 15000);
  let emitter = null;
  const shutdown = async () => {
    clearTimeout(timer);
    clearInterval(sender);
    client.close();
    if (emitter) await emitter.close();
    for (const { io } of servers) await new Promise((r) => io.close(() => r()));
  };
  const got = new Set();
  const check = () => {
    if (got.has("server") && got.has("emitter")) {
      console.log(`ok: broadcasts from server B and from an Emitter${tlsTarget ? " over TLS" : ""} reached a client of server A (${Date.now() - started} ms)`);
      shutdown();
    }
  };
  client.on("hello", (from) => {
    got.add(from);
    check();
  });
  client.on("connect_error", (err) => fail(`client: ${err.message}`));
  // Server B broadcasts until the client has it (the subscriptions are made asynchronously).
  const sender = setInterval(() => {
    if (!got.has("server")) servers[1].io.emit("hello", "server");
    if (emitter === null) {
      emitter = new Emitter(tlsTarget || url);
      emitter.client.on("error", (err) => fail(`emitter: ${err.code} ${err.message}`));
    }
    if (!got.has("emitter")) emitter.emit("hello", "emitter");
  }, 100);
}

main().catch((err) => {
  fail(err.stack);
});
