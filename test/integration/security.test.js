"use strict";
// Security: no decoded input changes a prototype (every channel, every place a "__proto__" key can
// hide); a Redis ACL user allowed only the adapter's channels and commands is enough; credentials
// never appear in errors, rejections, stacks or warnings.
const assert = require("node:assert/strict");
const notepack = require("notepack.io");
const { startRedis, waitForSubscribers, RawRedis, freePort } = require("../helpers/redis");
const { createServers } = require("../helpers/servers");
const { waitFor, sleep, once } = require("../helpers/util");
const { createAdapter, createClient } = require("../..");

// --- a tiny msgpack writer, so maps can carry keys notepack.encode would never write -------------
class Pairs {
  constructor(pairs) {
    this.pairs = pairs;
  }
}
const M = (...pairs) => new Pairs(pairs);
const PROTO = () => M(["polluted", 1], ["rooms", ["room"]], ["volatile", true]);

function mp(v) {
  if (v === null || v === undefined) return Buffer.from([0xc0]);
  if (v === true) return Buffer.from([0xc3]);
  if (v === false) return Buffer.from([0xc2]);
  if (typeof v === "number") {
    if (Number.isInteger(v) && v >= 0 && v < 128) return Buffer.from([v]);
    const b = Buffer.alloc(9);
    b[0] = 0xcb;
    b.writeDoubleBE(v, 1);
    return b;
  }
  if (typeof v === "string") {
    const s = Buffer.from(v);
    if (s.length < 32) return Buffer.concat([Buffer.from([0xa0 | s.length]), s]);
    const h = Buffer.alloc(3);
    h[0] = 0xda;
    h.writeUInt16BE(s.length, 1);
    return Buffer.concat([h, s]);
  }
  if (Array.isArray(v)) {
    assert.ok(v.length < 16);
    return Buffer.concat([Buffer.from([0x90 | v.length]), ...v.map(mp)]);
  }
  const pairs = v instanceof Pairs ? v.pairs : Object.entries(v);
  assert.ok(pairs.length < 16);
  return Buffer.concat([Buffer.from([0x80 | pairs.length]), ...pairs.flatMap(([k, x]) => [mp(k), mp(x)])]);
}

// --- prototype checks -------------------------------------------------------------------------
const PROTOS = { Object: Object.prototype, Array: Array.prototype, Function: Function.prototype };

function snapshot() {
  const out = {};
  for (const [name, proto] of Object.entries(PROTOS)) {
    out[name] = Reflect.ownKeys(proto).map(String).sort().join(",");
    out[name + ".__proto__"] = Object.getPrototypeOf(proto);
  }
  return out;
}

// Every object reachable from `value` has its standard prototype and no 'polluted' property. An own
// data property named "__proto__" (what JSON.parse makes of that key, as upstream does) changes no
// prototype: it is noted in `ownProto` and its contents are checked for prototypes only.
const ownProto = [];
function assertClean(value, where, seen = new Set(), inOwnProto = false) {
  if (value === null || typeof value !== "object" || seen.has(value)) return;
  seen.add(value);
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return;
  if (value instanceof Set) return [...value].forEach((x, i) => assertClean(x, `${where}{${i}}`, seen));
  const proto = Object.getPrototypeOf(value);
  if (Array.isArray(value)) assert.equal(proto, Array.prototype, `${where}: array with a changed prototype`);
  else assert.equal(proto, Object.prototype, `${where}: object with a changed prototype`);
  if (!inOwnProto) assert.equal("polluted" in value, false, `${where}: has 'polluted'`);
  for (const key of Reflect.ownKeys(value)) {
    if (typeof key === "symbol") continue;
    if (key === "__proto__") ownProto.push(where);
    assertClean(value[key], `${where}.${key}`, seen, inOwnProto || key === "__proto__");
  }
}

describe("security", function () {
  this.timeout(20000);
  let redis;
  const closers = [];

  before(async () => (redis = await startRedis()));
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  after(async () => {
    if (redis) await redis.stop();
  });

  it("a. no decoded input, on any channel, changes a prototype or reaches anyone with extra properties", async function () {
    const before = snapshot();
    const factories = [];
    const cluster = await createServers({
      count: 2,
      adapter: (i) => (factories[i] = createAdapter({ host: "127.0.0.1", port: redis.port }, { requestsTimeout: 1500 })),
    });
    closers.push(() => cluster.closeAll());
    factories.forEach((f) => f.client.on("error", () => {}));
    // a fake third node: subscribed to the request channel (so it is counted) and answering with poison
    const fakeSub = await RawRedis.connect(redis.port);
    const fakePub = await RawRedis.connect(redis.port);
    closers.push(() => fakeSub.close(), () => fakePub.close());
    await fakeSub.command("SUBSCRIBE", "socket.io-request#/#");
    await waitForSubscribers(redis.port, 3);

    const received = []; // [where, value]
    cluster.ios.forEach((io, i) => {
      io.on("connection", (s) => s.join("room"));
      io.on("evil", (...args) => {
        const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
        received.push([`server${i} serverSideEmit`, args]);
        if (cb) cb({ fine: true });
      });
    });
    const clients = [await cluster.connect(0), await cluster.connect(1)];
    clients.forEach((c, i) => {
      c.onAny((event, ...args) => {
        const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
        received.push([`client${i} ${event}`, args]);
        if (cb) cb(1); // answer acks with a plain number
      });
    });

    // The fake node answers every request of our nodes, each with "__proto__" keys wherever they fit.
    fakeSub.on("push", async ([, channel, msg]) => {
      let req;
      try {
        req = msg[0] === 0x7b ? JSON.parse(msg.toString()) : notepack.decode(msg);
      } catch {
        return;
      }
      if (!req || typeof req.requestId !== "string" || req.uid === "fake01") return;
      const ch = "socket.io-response#/#";
      const poison = '{"polluted":1,"rooms":["room"]}';
      const id = JSON.stringify(req.requestId);
      switch (req.type) {
        case 5: // REMOTE_FETCH
          await fakePub.publish(ch, `{"__proto__":${poison},"requestId":${id},"sockets":[{"__proto__":${poison},"id":"fakeSocket","handshake":{"__proto__":${poison},"headers":{"__proto__":${poison}},"query":{},"auth":{"__proto__":${poison}}},"rooms":["__proto__"],"data":{"__proto__":${poison},"n":{"__proto__":${poison}}}}]}`);
          break;
        case 1: // ALL_ROOMS
          await fakePub.publish(ch, `{"__proto__":${poison},"requestId":${id},"rooms":["__proto__","constructor"]}`);
          break;
        case 6: // SERVER_SIDE_EMIT with ack
          await fakePub.publish(ch, `{"__proto__":${poison},"requestId":${id},"data":{"__proto__":${poison},"deep":[{"__proto__":${poison}}]}}`);
          break;
        case 7: // BROADCAST with ack: a count, then acks as msgpack and as JSON
          await fakePub.publish(ch, `{"__proto__":${poison},"type":8,"requestId":${id},"clientCount":3}`);
          await fakePub.publish(ch, mp(M(["type", 9], ["requestId", req.requestId], ["packet", M(["__proto__", PROTO()], ["a", 1])])));
          await fakePub.publish(ch, mp(M(["__proto__", PROTO()], ["type", 9], ["requestId", req.requestId], ["packet", [M(["x", M(["__proto__", PROTO()])])]])));
          await fakePub.publish(ch, `{"type":9,"requestId":${id},"packet":{"__proto__":${poison}}}`);
          break;
      }
    });

    // 1. broadcasts (msgpack [uid, packet, opts]) on the namespace channel and a room channel
    const pkt = (data, extra = []) => M(["type", 2], ["data", data], ["nsp", "/"], ...extra);
    const opts = (...extra) => M(["rooms", []], ["except", []], ["flags", M()], ...extra);
    const broadcasts = [
      ["fake01", pkt(["ev1", M(["__proto__", PROTO()], ["a", 1])]), opts()],
      ["fake01", pkt(["ev2", [M(["b", M(["__proto__", PROTO()])])], M(["__proto__", null])]), opts()],
      ["fake01", pkt(["ev3", M(["__proto__", 1]), M(["__proto__", "x"]), M(["__proto__", []])]), opts()],
      ["fake01", pkt(["ev4", 1], [["__proto__", M(["polluted", 1], ["type", 2])]]), opts()],
      ["fake01", M(["__proto__", PROTO()], ["type", 2], ["data", ["ev5", 1]], ["nsp", "/"]), opts()],
      ["fake01", pkt(["ev6", 1]), opts(["__proto__", PROTO()])],
      ["fake01", pkt(["ev7", 1]), M(["__proto__", PROTO()], ["rooms", ["room"]], ["except", []], ["flags", M()])],
      ["fake01", pkt(["ev8", 1]), M(["rooms", ["room"]], ["except", []], ["flags", M(["__proto__", M(["volatile", true], ["local", true], ["polluted", 1])])])],
      ["fake01", pkt(["ev9", M(["constructor", M(["prototype", M(["value", 1])])])]), opts()],
    ];
    for (const b of broadcasts) {
      await fakePub.publish("socket.io#/#", mp(b));
      await fakePub.publish("socket.io#/#room#", mp([b[0], b[1], M(["rooms", ["room"]], ["except", []], ["flags", M()])]));
    }

    // 2. requests, as JSON and as msgpack, on the request channel
    const poison = '{"polluted":1,"rooms":["room"]}';
    const requests = [
      `{"__proto__":${poison},"type":1,"requestId":"req001","uid":"fake01"}`,
      `{"__proto__":${poison},"type":0,"requestId":"req002","uid":"fake01","rooms":["room"]}`,
      `{"type":5,"requestId":"req003","uid":"fake01","opts":{"__proto__":${poison},"rooms":[],"except":[]}}`,
      `{"type":2,"uid":"fake01","opts":{"__proto__":${poison},"rooms":["room"],"except":[]},"rooms":["__proto__","joined"]}`,
      `{"type":3,"uid":"fake01","opts":{"rooms":["room"],"except":[],"__proto__":${poison}},"rooms":["joined"]}`,
      `{"type":6,"uid":"fake01","data":["evil",{"__proto__":${poison},"x":{"__proto__":${poison}}}]}`,
      `{"type":6,"requestId":"req004","uid":"fake01","data":["evil",{"__proto__":${poison}}]}`,
      `{"type":6,"uid":"fake01","data":{"__proto__":${poison},"length":1}}`,
    ];
    for (const r of requests) await fakePub.publish("socket.io-request#/#", r);
    await fakePub.publish("socket.io-request#/#", mp(M(["uid", "fake01"], ["requestId", "req005"], ["type", 7], ["packet", pkt(["ev10", M(["__proto__", PROTO()])])], ["opts", opts()])));
    await fakePub.publish("socket.io-request#/#", mp(M(["__proto__", PROTO()], ["uid", "fake01"], ["requestId", "req006"], ["type", 7], ["packet", pkt(["ev11", 1])], ["opts", opts(["__proto__", PROTO()])])));

    // 3. responses to our own pending requests (the fake node answers them, see above), and strays
    const io = cluster.ios[0];
    const results = await Promise.allSettled([
      io.fetchSockets(),
      io.of("/").adapter.allRooms(),
      io.serverSideEmitWithAck("evil", 1),
      io.timeout(1000).emitWithAck("ev12", 1),
    ]);
    await fakePub.publish("socket.io-response#/#", `{"__proto__":${poison},"requestId":"stray","sockets":[]}`);
    await fakePub.publish("socket.io-response#/#", mp(M(["__proto__", PROTO()], ["type", 9], ["requestId", "stray"], ["packet", 1])));

    // a clean broadcast from each node, received by both clients: everything before it was handled
    for (const i of [0, 1]) {
      const got = Promise.all(clients.map((c) => once(c, "barrier", 3000)));
      cluster.ios[i].emit("barrier");
      await got;
    }
    await sleep(100);

    // nothing changed any prototype
    assert.deepEqual(snapshot(), before);
    assert.equal({}.polluted, undefined);
    assert.equal([].polluted, undefined);
    assert.equal((() => {}).polluted, undefined);
    assert.equal(Object.prototype.rooms, undefined);

    // and nobody received anything with a changed prototype or a 'polluted' property
    for (const [where, value] of received) assertClean(value, where);
    const [sockets, rooms, sse, acks] = results;
    assert.equal(sockets.status, "fulfilled", String(sockets.reason));
    for (const s of sockets.value) {
      assert.equal(typeof s.id, "string");
      assertClean(s.rooms, `fetchSockets[${s.id}].rooms`);
      assertClean(s.handshake, `fetchSockets[${s.id}].handshake`);
      assertClean(s.data, `fetchSockets[${s.id}].data`);
    }
    assert.equal(rooms.status, "fulfilled", String(rooms.reason));
    assertClean(rooms.value, "allRooms");
    assert.equal(sse.status, "fulfilled", String(sse.reason));
    assertClean(sse.value, "serverSideEmitWithAck");
    // the ack broadcast times out (the fake node announced 3 clients and sent fewer clean acks)
    if (acks.status === "fulfilled") assertClean(acks.value, "emitWithAck");
    else assert.match(acks.reason.message, /timed out/);
    assert.ok(received.length > 0, "the clients and servers did receive data");
    if (process.env.SECURITY_DEBUG) console.log({ received: received.map(([w, v]) => `${w} ${JSON.stringify(v)}`), ownProto, invalid: io.of("/").adapter.stats.invalid });
    // the poisoned messages that carried "__proto__" where notepack would have set a prototype are refused
    assert.ok(io.of("/").adapter.stats.invalid > 0, "invalid messages are counted");
  });

  // The minimal ACL, found by removing one rule at a time (AUTH is always allowed). PSUBSCRIBE
  // needs its pattern allowed literally, so "&socket.io#*" is not enough: one "&socket.io#<nsp>#*"
  // per namespace. PING is not needed: the health check takes the NOPERM reply as a sign of life.
  const MINIMAL_ACL = [
    "resetchannels", "&socket.io#/#*", "&socket.io#/chat#*", "&socket.io-request#*", "&socket.io-response#*",
    "-@all", "+publish", "+subscribe", "+psubscribe", "+unsubscribe", "+punsubscribe", "+pubsub|numsub",
  ];

  it("b. an ACL user allowed only the adapter's channels and commands is enough", async function () {
    await redis.cli("ACL", "SETUSER", "sio", "reset", "on", ">pw", ...MINIMAL_ACL);
    const errors = [];
    const factories = [];
    const cluster = await createServers({
      count: 3,
      namespaces: ["/chat"],
      adapter: (i) =>
        (factories[i] = createAdapter(
          // a health check every 100 ms: PING is exercised (and refused) all along
          { url: `redis://sio:pw@127.0.0.1:${redis.port}`, healthInterval: 100, healthTimeout: 1000 },
          { publishOnSpecificResponseChannel: i === 1 },
        )),
    });
    closers.push(() => cluster.closeAll());
    factories.forEach((f) => f.client.on("error", (err) => errors.push(`${err.role} ${err.code} ${err.message}`)));
    await waitForSubscribers(redis.port, 3);
    await waitForSubscribers(redis.port, 3, { nsp: "/chat" });
    cluster.ios.forEach((io, i) => io.on("connection", (s) => s.join("r" + i)));
    cluster.ios.forEach((io, i) => io.on("q", (cb) => cb(i)));
    const sockets = [await cluster.connect(0), await cluster.connect(1), await cluster.connect(2)];
    const chat = await cluster.connect(2, { nsp: "/chat" });
    sockets.forEach((s, i) => s.on("ack", (cb) => cb(i)));

    const got = [once(sockets[2], "to-room", 3000), once(sockets[1], "to-all", 3000), once(chat, "chat", 3000)];
    cluster.ios[0].to("r2").emit("to-room", 1);
    cluster.ios[0].emit("to-all", 2);
    cluster.ios[1].of("/chat").emit("chat", 3);
    assert.deepEqual(await Promise.all(got), [[1], [2], [3]]);
    assert.equal((await cluster.ios[0].fetchSockets()).length, 3);
    assert.equal((await cluster.ios[1].fetchSockets()).length, 3); // answers on the specific channel
    assert.deepEqual((await cluster.ios[1].serverSideEmitWithAck("q")).sort(), [0, 2]);
    assert.deepEqual((await cluster.ios[2].timeout(2000).emitWithAck("ack")).sort(), [0, 1, 2]);
    assert.deepEqual((await cluster.ios[1].timeout(2000).emitWithAck("ack")).sort(), [0, 1, 2]);
    assert.ok((await cluster.ios[0].of("/").adapter.allRooms()).has("r1"));
    await sleep(500); // several health checks
    // a namespace closed while the connections stay open: its (P)UNSUBSCRIBE is allowed too
    await cluster.ios[0].of("/chat").adapter.close();
    await sleep(100);
    assert.deepEqual(errors, []);
    for (const f of factories) assert.equal(f.client.stats().subscriber.disconnects + f.client.stats().command.disconnects, 0);
  });

  it("d. commands Redis refuses (NOPERM) are reported with Redis's code, not hidden or mislabelled", async function () {
    // Everything allowed except PUBLISH and PUBSUB: broadcasts and requests are refused by the ACL.
    await redis.cli("ACL", "SETUSER", "nopub", "reset", "on", ">pw", "~*", "&*", "+@all", "-publish", "-pubsub");
    const f = createAdapter(`redis://nopub:pw@127.0.0.1:${redis.port}`, { requestsTimeout: 500 });
    const cluster = await createServers({ count: 1, adapter: () => f });
    closers.push(() => cluster.closeAll());
    const errors = [];
    f.client.on("error", (err) => errors.push(err));
    await waitFor(() => f.client.cmd.ready && f.client.sub.ready, 3000, { what: "the client" });
    // a broadcast: PUBLISH refused; counted, and one error event (rate-limited) with code NOPERM
    for (let i = 0; i < 50; i++) cluster.ios[0].emit("x", i);
    await waitFor(() => f.client.stats().command.commandErrors === 50, 3000, { what: "50 refused publishes counted" });
    const pubErrors = errors.filter((e) => e.code === "NOPERM" && /PUBLISH|publish/.test(e.message));
    assert.equal(pubErrors.length, 1, `one rate-limited error event, got ${errors.map((e) => e.code + " " + e.message).join("; ")}`);
    // a request: PUBSUB NUMSUB refused -> EREDIS, and an error event with NOPERM
    await assert.rejects(cluster.ios[0].fetchSockets(), { code: "EREDIS" });
    assert.ok(errors.some((e) => e.code === "NOPERM" && /PUBSUB NUMSUB/.test(e.message)), "NUMSUB refusal reported");
    // serverCount never rejects (socket.io does not catch it)
    assert.equal(typeof (await cluster.ios[0].of("/").adapter.serverCount()), "number");
  });

  it("c. error messages, rejections, stacks and warnings never contain the password", async function () {
    const secret = "S3cr3t-Pa55w0rd-x9";
    await redis.cli("ACL", "SETUSER", "limited", "reset", "on", `>${secret}`, "resetchannels", "-@all", "+ping");
    const seen = [];
    const record = (what, err) => seen.push(`${what}: ${err && err.code} ${err && err.message} ${err && err.stack} ${JSON.stringify(err)}`);
    const warn = console.warn;
    const error = console.error;
    console.warn = (...args) => seen.push(`warn: ${args.join(" ")}`);
    console.error = (...args) => seen.push(`error: ${args.join(" ")}`);
    const clients = [];
    try {
      // wrong password for an existing user
      const wrong = createClient({ url: `redis://limited:${secret}-wrong@127.0.0.1:${redis.port}`, retryMax: 200 });
      wrong.on("error", (err) => record("wrong", err));
      // a URL with a password to a port where nothing listens, without an 'error' listener (the warning)
      const port = await freePort();
      const nobody = createClient({ url: `redis://limited:${secret}@127.0.0.1:${port}`, retryMax: 200 });
      const nobody2 = createClient({ host: "127.0.0.1", port, username: "limited", password: secret, retryMax: 200 });
      nobody2.on("error", (err) => record("nobody", err));
      // a command refused by the ACL, and one sent while not connected
      const limited = createClient(`redis://limited:${secret}@127.0.0.1:${redis.port}`);
      limited.on("error", (err) => record("limited", err));
      clients.push(wrong, nobody, nobody2, limited);
      await waitFor(() => limited.cmd.ready, 3000, { what: "the limited client's command connection" });
      await limited.command(["GET", "k"]).then((v) => seen.push(`resolved ${v}`), (err) => record("GET", err));
      await limited.command(["PUBLISH", "socket.io#/#", "x"]).then((v) => seen.push(`resolved ${v}`), (err) => record("PUBLISH", err));
      await nobody2.command(["PING"]).then((v) => seen.push(`resolved ${v}`), (err) => record("ENOTCONN", err));
      // an adapter on the refused subscriber: subscription errors, and requests that fail
      const f = createAdapter(`redis://limited:${secret}@127.0.0.1:${redis.port}`, { requestsTimeout: 300 });
      const cluster = await createServers({ count: 1, adapter: () => f });
      closers.push(() => cluster.closeAll());
      f.client.on("error", (err) => record("adapter", err));
      await sleep(300);
      await cluster.ios[0].fetchSockets().then(() => seen.push("fetch resolved"), (err) => record("fetchSockets", err));
      await cluster.ios[0].serverSideEmitWithAck("x").then(() => seen.push("sse resolved"), (err) => record("sse", err));
      // invalid URLs are reported without their credentials too
      try {
        createClient(`redis://limited:${secret}@127.0.0.1:99999`);
      } catch (err) {
        record("bad port", err);
      }
      try {
        createClient(`redis://limited:${secret}@[::1`);
      } catch (err) {
        record("bad url", err);
      }
      await waitFor(
        () =>
          ["WRONGPASS", "ECONNREFUSED", "NOPERM", "ENOTCONN", "missing 'error' handler", "invalid Redis"].every((s) => seen.some((t) => t.includes(s))),
        5000,
        { what: `every kind of failure (have ${seen.length})` },
      );
    } finally {
      console.warn = warn;
      console.error = error;
      await Promise.all(clients.map((c) => c.close()));
    }
    assert.ok(seen.length >= 8, `${seen.length} messages`);
    for (const text of seen) {
      assert.ok(!text.includes(secret), `a message holds the password: ${text}`);
      assert.ok(!text.includes(encodeURIComponent(secret)), `a message holds the password: ${text}`);
    }
  });
});
