"use strict";

// Over TLS, with an ACL user (AUTH user pass inside the TLS session): a mixed fleet of servers on
// @socket.io/redis-adapter 8.3.0 (node-redis v4 clients over rediss://) and on this package (one server
// reading the very node-redis clients as its target), plus both emitters; and createClient's commands and
// raw pub/sub. Broadcasts, requests and acks cross in every direction.

const assert = require("node:assert/strict");
const { createClient } = require("redis");
const { createAdapter: upstreamCreateAdapter } = require("@socket.io/redis-adapter");
const { Emitter: UpstreamEmitter } = require("@socket.io/redis-emitter");
const { startRedis, waitForSubscribers, isRedisAvailable } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor } = require("../helpers/util");
const { certs } = require("../helpers/tls");
const lib = require("../..");

const USER = "app";
const PASS = "app-secret";

describe("TLS: mixed fleet with @socket.io/redis-adapter on node-redis, emitters and createClient, with an ACL user", function () {
  this.timeout(30000);
  let redis;
  let cluster;
  let nodeRedisClients;
  let errors;

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    redis = await startRedis({ tls: {} });
    // a user allowed pub/sub and PUBSUB only (no PING, no CLIENT SETNAME): the handshake must cope
    await redis.cli("ACL", "SETUSER", USER, "on", `>${PASS}`, "resetchannels", "&*", "-@all", "+auth", "+subscribe", "+psubscribe", "+ssubscribe", "+unsubscribe", "+punsubscribe", "+sunsubscribe", "+publish", "+spublish", "+pubsub", "+hello", "+select", "+echo");
  });

  after(async function () {
    if (redis) await redis.stop();
  });

  beforeEach(function () {
    errors = [];
    nodeRedisClients = [];
  });

  afterEach(async function () {
    if (cluster) await cluster.closeAll();
    cluster = null;
    await Promise.all(nodeRedisClients.map((c) => (c.isOpen ? c.disconnect() : null)));
  });

  async function nodeRedisPair() {
    const pub = createClient({ url: `rediss://${USER}:${PASS}@localhost:${redis.tlsPort}`, socket: { ca: certs().ca, reconnectStrategy: () => 50 } });
    const sub = pub.duplicate();
    for (const c of [pub, sub]) {
      c.on("error", () => {});
      nodeRedisClients.push(c);
    }
    await Promise.all([pub.connect(), sub.connect()]);
    return [pub, sub];
  }

  const target = () => ({ url: `rediss://localhost:${redis.tlsPort}`, username: USER, password: PASS, tls: { ca: certs().ca } });

  it("broadcasts, requests and acks cross between upstream and ours over TLS, in both directions", async function () {
    const KINDS = ["upstream", "ours-url", "upstream", "ours-nodeRedis"];
    cluster = await createServers({
      count: 4,
      adapter: async (i) => {
        if (KINDS[i] === "upstream") return upstreamCreateAdapter(...(await nodeRedisPair()));
        const f = lib.createAdapter(...(KINDS[i] === "ours-url" ? [target()] : await nodeRedisPair()));
        f.on("error", (err) => errors.push(err));
        return f;
      },
    });
    await waitForSubscribers(redis.port, 4);
    const clients = [];
    for (let i = 0; i < 4; i++) clients.push(await cluster.connect(i));
    const got = clients.map(() => []);
    clients.forEach((c, i) => c.on("m", (v) => got[i].push(v)));
    for (let from = 0; from < 4; from++) {
      for (let attempt = 0; attempt < 60; attempt++) {
        cluster.ios[from].emit("m", `${KINDS[from]}-${from}-${attempt}`);
        await new Promise((r) => setTimeout(r, 50));
        if (got.every((g) => g.some((v) => v.startsWith(`${KINDS[from]}-${from}-`)))) break;
      }
      assert.ok(
        got.every((g) => g.some((v) => v.startsWith(`${KINDS[from]}-${from}-`))),
        `from server ${from} (${KINDS[from]}): ${JSON.stringify(got)}`,
      );
    }
    // requests and acks from ours, answered by upstream servers too
    assert.equal((await cluster.ios[1].fetchSockets()).length, 4);
    assert.equal((await cluster.ios[0].fetchSockets()).length, 4, "upstream's fetchSockets sees ours");
    clients.forEach((c) => c.on("ack", (cb) => cb(c.id)));
    const acks = await cluster.ios[3].timeout(3000).emitWithAck("ack");
    assert.deepEqual(acks.sort(), clients.map((c) => c.id).sort());
    cluster.ios.forEach((io, i) => io.on("who", (cb) => cb(i)));
    assert.deepEqual((await cluster.ios[1].serverSideEmitWithAck("who")).sort(), [0, 2, 3]);

    // both emitters, over TLS as the ACL user
    const ours = new lib.Emitter(target());
    const [upPub] = await nodeRedisPair();
    const theirs = new UpstreamEmitter(upPub);
    try {
      for (const g of got) g.length = 0;
      ours.emit("m", "our-emitter");
      theirs.emit("m", "their-emitter");
      await waitFor(() => got.every((g) => g.includes("our-emitter") && g.includes("their-emitter")), 5000, { what: "both emitters' broadcasts" });
      const answers = await ours.serverSideEmitWithAck("who");
      assert.deepEqual(answers.sort(), [0, 1, 2, 3]);
    } finally {
      await ours.close();
    }
    assert.deepEqual(errors, []);
  });

  it("createClient over TLS as the ACL user: commands, raw pub/sub, and a command the ACL refuses", async function () {
    const client = lib.createClient(target());
    client.on("error", (err) => errors.push(err));
    try {
      await new Promise((r) => client.once("ready", r));
      const got = [];
      client.on("message", (ch, payload) => got.push([ch, payload.toString()]));
      client.subscribe("tls-chan");
      await waitFor(async () => (await client.command(["PUBSUB", "NUMSUB", "tls-chan"]))[1] === 1, 3000, { what: "subscribed" });
      assert.equal(await client.command(["PUBLISH", "tls-chan", "hello over TLS"]), 1);
      await waitFor(() => got.length === 1, 3000, { what: "the message" });
      assert.deepEqual(got, [["tls-chan", "hello over TLS"]]);
      await assert.rejects(client.command(["SET", "k", "v"]), (err) => /NOPERM/.test(err.message));
      const stats = client.stats();
      assert.ok(stats.command.bytesRead > 0 && stats.subscriber.bytesWritten > 0);
    } finally {
      await client.close();
    }
    assert.deepEqual(errors, []);
  });
});
