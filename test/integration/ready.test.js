"use strict";
// "Ready" means Redis answered: an endpoint that accepts TCP and never answers (a proxy or load balancer
// whose Redis is gone, a frozen server) must not be reported ready, and publishes whose replies never
// come must be counted, not vanish.
const assert = require("node:assert/strict");
const { startPeer } = require("../helpers/peer");
const { waitFor, once, sleep } = require("../helpers/util");
const { createClient } = require("../..");

describe("ready means Redis answered", function () {
  this.timeout(20000);
  let peer, client;

  afterEach(async () => {
    if (client) await client.close();
    if (peer) await peer.close();
    client = peer = null;
  });

  it("never reports ready an endpoint that accepts and never answers; the handshake times out and retries", async function () {
    peer = await startPeer(() => {}); // reads, never writes
    client = createClient({ host: "127.0.0.1", port: peer.port, connectTimeout: 300, retryMax: 100 });
    const errors = [];
    client.on("error", (err) => errors.push(err));
    let ready = false;
    client.on("ready", () => (ready = true));
    await waitFor(() => errors.some((e) => e.code === "ETIMEDOUT"), 3000, { what: "a handshake timeout" });
    assert.match(errors.find((e) => e.code === "ETIMEDOUT").message, /handshake/);
    await sleep(200);
    assert.equal(ready, false);
    assert.equal(client.isReady, false);
    // Nothing is accepted for a peer that never answered: publishes are refused and counted.
    let accepted = 0;
    for (let i = 0; i < 100; i++) if (client.publish("ch", Buffer.from("x"))) accepted++;
    assert.equal(accepted, 0);
    assert.equal(client.stats().publishDropped, 100);
    await assert.rejects(client.command(["GET", "k"]), (err) => err.code === "ENOTCONN");
    assert.ok(peer.accepted() >= 2 || client.stats().command.connects >= 2, "it reconnects after the handshake timeout");
  });

  it("counts publishes a peer took but never answered once the health check fails the connection", async function () {
    // Answers the handshake's PING, then goes silent while it keeps reading (and discarding).
    peer = await startPeer((socket) => {
      socket.once("data", (d) => {
        if (d.includes("PING")) socket.write("+PONG\r\n");
      });
    });
    client = createClient({ host: "127.0.0.1", port: peer.port, healthInterval: 100, healthTimeout: 400, retryBase: 5000, retryMax: 5000 });
    const errors = [];
    client.on("error", (err) => errors.push(err));
    await once(client, "ready", 5000);
    let accepted = 0;
    for (let i = 0; i < 50; i++) if (client.publish("ch", Buffer.from(`m${i}`))) accepted++;
    assert.equal(accepted, 50);
    await waitFor(() => errors.some((e) => e.code === "ETIMEDOUT" && e.role === "command"), 3000, { what: "the health check failing the connection" });
    // The connection given up on stays open until its replacement has answered (a frozen Redis would speak
    // on it first); then it is reset, and what the peer acknowledged without answering is counted.
    await waitFor(() => client.stats().command.replaced === 1, 2000, { what: "the replacement taking over" });
    assert.equal(client.stats().publishDropped, 50);
    assert.equal(client.stats().command.unanswered, 50);
  });
});
