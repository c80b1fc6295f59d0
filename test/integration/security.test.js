"use strict";
// A Redis ACL user allowed only the adapter's channels and commands is enough; credentials never
// appear in errors or warnings; decoded input never changes a prototype.
const assert = require("node:assert/strict");
const net = require("node:net");
const notepack = require("notepack.io");
const { startRedis, waitForSubscribers, RawRedis } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor, once } = require("../helpers/util");
const { createAdapter, createClient } = require("../..");

// Only what the adapter sends: PUBLISH, (P)SUBSCRIBE and (P)UNSUBSCRIBE on its channels, PUBSUB NUMSUB,
// and PING for the health check. No keys at all.
const ACL = [
  // PSUBSCRIBE needs its pattern allowed literally: one "&socket.io#<nsp>#*" entry per namespace.
  "resetchannels", "&socket.io#*", "&socket.io#/#*", "&socket.io-request#*", "&socket.io-response#*",
  "-@all", "+publish", "+subscribe", "+psubscribe", "+unsubscribe", "+punsubscribe", "+pubsub|numsub", "+ping",
];

describe("security", function () {
  this.timeout(20000);
  let redis, cluster;
  const opened = [];

  before(async () => {
    redis = await startRedis();
    await redis.cli("ACL", "SETUSER", "sio", "reset", "on", ">Pw-sio-7731", ...ACL);
  });
  after(async () => {
    if (cluster) await cluster.closeAll();
    await Promise.all(opened.map((c) => c.close()));
    if (redis) await redis.stop();
  });

  it("works with an ACL user allowed only the adapter's channels and commands", async function () {
    const url = `redis://sio:Pw-sio-7731@127.0.0.1:${redis.port}`;
    const errors = [];
    for (let i = 0; i < 3; i++) {
      const c = createClient(url);
      c.on("error", (err) => errors.push(err));
      opened.push(c);
    }
    cluster = await createServers({ count: 3, adapter: (i) => createAdapter(opened[i]) });
    await waitForSubscribers(redis.port, 3);
    cluster.ios.forEach((io, i) => io.on("connection", (s) => s.join("r" + i)));
    cluster.ios.forEach((io, i) => io.on("q", (cb) => cb(i)));
    const sockets = [await cluster.connect(0), await cluster.connect(1), await cluster.connect(2)];
    const got = once(sockets[2], "hello", 3000);
    cluster.ios[0].to("r2").emit("hello", 1);
    assert.deepEqual(await got, [1]);
    assert.equal((await cluster.ios[0].fetchSockets()).length, 3);
    assert.deepEqual((await cluster.ios[1].serverSideEmitWithAck("q")).sort(), [0, 2]);
    sockets.forEach((s, i) => s.on("ack", (cb) => cb(i)));
    assert.deepEqual((await cluster.ios[2].timeout(2000).emitWithAck("ack")).sort(), [0, 1, 2]);
    assert.deepEqual(errors, []);
  });

  it("never puts a password in an error, a rejection or a warning", async function () {
    const secret = "Sup3r-Secret-Pw";
    const seen = [];
    const warn = console.warn;
    console.warn = (...args) => seen.push(args.join(" "));
    try {
      // wrong password for an existing user
      const a = createClient(`redis://sio:${secret}@127.0.0.1:${redis.port}`);
      opened.push(a);
      a.on("error", (err) => seen.push(`${err.code} ${err.message} ${err.stack}`));
      // nothing listening at all, and no 'error' listener (the one-time warning)
      const port = await new Promise((r) => {
        const s = net.createServer().listen(0, "127.0.0.1", () => {
          const p = s.address().port;
          s.close(() => r(p));
        });
      });
      const b = createClient({ host: "127.0.0.1", port, password: secret, username: "sio" });
      opened.push(b);
      // a command the ACL refuses, on the restricted user
      const c = createClient(`redis://sio:Pw-sio-7731@127.0.0.1:${redis.port}`);
      opened.push(c);
      c.on("error", (err) => seen.push(`${err.code} ${err.message} ${err.stack}`));
      await once(c, "ready", 3000);
      await c.command(["GET", "k"]).catch((err) => seen.push(`${err.code} ${err.message} ${err.stack}`));
      await waitFor(() => seen.some((s) => /WRONGPASS/.test(s)) && seen.some((s) => /NOPERM/.test(s)) && seen.some((s) => /ECONNREFUSED/.test(s)), 5000, {
        what: "the three failures",
      });
    } finally {
      console.warn = warn;
    }
    for (const text of seen) {
      assert.ok(!text.includes(secret), `a message holds the password: ${text}`);
      assert.ok(!text.includes("Pw-sio-7731"), `a message holds the password: ${text}`);
    }
  });

  it("no decoded input changes a prototype", async function () {
    if (!cluster) this.skip();
    const before = [Object.prototype, Array.prototype, Function.prototype].map((p) => Object.getOwnPropertyNames(p).join());
    const raw = await RawRedis.connect(redis.port);
    try {
      const payloads = [
        // prototype keys built by hand: notepack.encode would not write an own __proto__ key
        Buffer.concat([Buffer.from([0x93, 0xa6]), Buffer.from("evil01"), Buffer.from([0x83, 0xa4]), Buffer.from("type"), Buffer.from([0x02, 0xa4]), Buffer.from("data"),
          Buffer.from([0x92, 0xa2]), Buffer.from("ev"), Buffer.from([0x81, 0xa9]), Buffer.from("__proto__"), Buffer.from([0x81, 0xa8]), Buffer.from("polluted"), Buffer.from([0xc3]),
          Buffer.from([0xa3]), Buffer.from("nsp"), Buffer.from([0xa1, 0x2f]), Buffer.from([0x81, 0xa9]), Buffer.from("__proto__"), Buffer.from([0x81, 0xa5]), Buffer.from("rooms"), Buffer.from([0x90])]),
        notepack.encode(["evil02", { type: 2, data: ["ev", JSON.parse('{"__proto__":{"polluted":1}}')], nsp: "/" }, { rooms: [], except: [], flags: {} }]),
      ];
      for (const p of payloads) await raw.publish("socket.io#/#", p);
      await raw.publish("socket.io-request#/#", '{"__proto__":{"polluted":1},"type":1,"requestId":"abcdef","uid":"zzzzzz"}');
      await raw.publish("socket.io-response#/#", '{"__proto__":{"polluted":1},"requestId":"abcdef","rooms":[]}');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await raw.close();
    }
    const after = [Object.prototype, Array.prototype, Function.prototype].map((p) => Object.getOwnPropertyNames(p).join());
    assert.deepEqual(after, before);
    assert.equal({}.polluted, undefined);
    assert.equal([].polluted, undefined);
  });
});
