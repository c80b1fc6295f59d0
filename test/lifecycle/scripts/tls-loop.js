"use strict";
// TLS connections opened and closed in every state: mid-handshake, ready with commands pending, after
// multi-record replies and a pub/sub message, while failing verification and retrying, refused by a server
// that wants a client certificate, and across a Redis restart; then an adapter over TLS, and clients through
// a Sentinel over TLS. It starts its own
// TLS redis-server (certificates from test/helpers/tls.js) and ignores argv[2]. Exits on its own (no
// process.exit): a leaked handle makes it hang, a leaked SSL or SSL_CTX shows under valgrind/ASan.
const { Server } = require("socket.io");
const { createClient, createAdapter } = require("../../..");
const { startRedis } = require("../../helpers/redis");
const { startSentinelGroup } = require("../../helpers/sentinel");
const { certs } = require("../../helpers/tls");

const rounds = Number(process.argv[3] || 6);
const tick = (ms) => new Promise((r) => setTimeout(r, ms));

function readyOrError(c) {
  return new Promise((resolve) => {
    c.once("ready", () => resolve("ready"));
    c.once("error", (err) => resolve(err.code));
  });
}

(async () => {
  const c = certs();
  const redis = await startRedis({ tls: {} });
  const mtls = await startRedis({ tls: { authClients: "yes" } });
  const tls = { ca: c.ca };
  try {
    for (let i = 0; i < rounds; i++) {
      const client = createClient({ url: redis.tlsUrl, tls, retryBase: 20, retryMax: 50 });
      client.on("error", () => {});
      if (i % 3 === 0) {
        // closed while resolving, connecting or mid-handshake
        await tick(i);
        await client.close();
        continue;
      }
      await new Promise((r) => client.once("ready", r));
      client.subscribe("tls-loop");
      const pending = [client.command(["PING"]), client.command(["ECHO", "x".repeat(40000 * i)])];
      pending.forEach((p) => p.catch(() => {}));
      if (i % 3 === 1) {
        await Promise.all(pending);
        await tick(20);
        const message = new Promise((r) => client.once("message", r));
        await client.command(["PUBLISH", "tls-loop", "y".repeat(70000)]);
        await message;
      }
      await client.close();
      await Promise.allSettled(pending);
    }

    // verification failures, retried, then closed while waiting to retry
    const wrong = createClient({ url: redis.tlsUrl, tls: { ca: c.otherCa }, retryBase: 20, retryMax: 50 });
    const codes = [];
    wrong.on("error", (err) => codes.push(err.code));
    while (codes.length < 3) await tick(10);
    await wrong.close();

    // a server that wants a client certificate: refused without one, fine with one
    const noCert = createClient({ url: mtls.tlsUrl, tls, retryBase: 20, retryMax: 50 });
    noCert.on("error", () => {});
    await readyOrError(noCert);
    await noCert.close();
    const withCert = createClient({ url: mtls.tlsUrl, tls: { ...tls, cert: c.client.cert, key: c.clientEncrypted.key, passphrase: c.clientEncrypted.passphrase } });
    withCert.on("error", () => {});
    if ((await readyOrError(withCert)) !== "ready") throw new Error("mutual TLS with a client certificate failed");
    await withCert.close();

    // Redis killed and restarted under a connected client
    const survivor = createClient({ url: redis.tlsUrl, tls, retryBase: 20, retryMax: 50 });
    survivor.on("error", () => {});
    await new Promise((r) => survivor.once("ready", r));
    await redis.restart();
    while (!survivor.isReady) await tick(10);
    await survivor.command(["PING"]);
    await survivor.close();

    // an adapter over TLS
    const io = new Server(0, { adapter: createAdapter({ url: redis.tlsUrl, tls }) });
    io.of("/").adapter.on("error", () => {});
    await tick(100);
    io.emit("hello", 1);
    await new Promise((r) => io.close(() => r()));

    // through a Sentinel over TLS to a master over TLS: closed while the Sentinel is asked, when ready with
    // commands pending, and while retrying after a Sentinel's certificate was refused
    const group = await startSentinelGroup({ replicas: 0, sentinels: 1, tls: {} });
    try {
      const target = { sentinels: group.sentinelList, name: group.name, tls, sentinelTLS: tls, retryBase: 20, retryMax: 50 };
      for (let i = 0; i < rounds; i++) {
        const client = createClient(target);
        client.on("error", () => {});
        if (i % 2 === 0) {
          await tick(i);
          await client.close();
          continue;
        }
        await new Promise((r) => client.once("ready", r));
        const pending = [client.command(["PING"]), client.command(["ROLE"])];
        pending.forEach((p) => p.catch(() => {}));
        await client.close();
        await Promise.allSettled(pending);
      }
      const refused = createClient({ ...target, sentinelTLS: { ca: c.otherCa } });
      const codes = [];
      refused.on("error", (err) => codes.push(err.code));
      while (codes.length < 2) await tick(10);
      await refused.close();
    } finally {
      await group.stop();
    }
  } finally {
    await redis.stop();
    await mtls.stop();
  }
  console.log("ok");
})();
