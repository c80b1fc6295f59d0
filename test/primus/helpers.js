"use strict";
// Primus 8 servers (websockets transformer, over http) on our plugin or on primus-redis-rooms 0.3.2, clients
// made with Primus's own Node client, and the teardown of all of it. Every packet a server's sparks are sent
// (the 'outgoing::data' strings, exactly what goes into the websocket frame) is recorded per client name.
const http = require("node:http");
const Primus = require("primus");
const ours = require("../../lib/primus");
const upstream = require("primus-redis-rooms");
const { redisCli } = require("../helpers/redis");
const { waitFor, bounded } = require("../helpers/util");

// How many connections hold a pattern subscription (each Primus node of either kind holds one).
async function patternSubscribers(port) {
  const list = await redisCli(port, "CLIENT", "LIST");
  return list.split("\n").filter((l) => /\bpsub=[1-9]/.test(l)).length;
}

class Fleet {
  constructor(redis) {
    this.redis = redis;
    this.nodes = [];
    this.clients = [];
  }

  // kind "ours" or "upstream"; redis: extra options.redis keys; opts: extra Primus options (and `record:
  // false`: no 'outgoing::data' listener of ours on the sparks, so that frames may be pre-built).
  async node(kind = "ours", redis = {}, { record = true, ...opts } = {}) {
    const server = http.createServer();
    const primus = new Primus(server, {
      transformer: "websockets",
      redis: { host: "127.0.0.1", port: this.redis.port, ...redis },
      ...opts,
    });
    primus.plugin("redis", kind === "ours" ? ours : upstream);
    if (kind === "upstream") {
      // node_redis 2.8 throws 'error' events nobody listens to (a Redis restart kills upstream's process):
      // listen, and quit its clients at the end (upstream never closes them).
      for (const c of [primus.rooms.redis.pub, primus.rooms.redis.sub]) c.on("error", () => {});
    } else {
      primus.rooms.on("error", () => {});
    }
    const node = { kind, primus, server, port: 0, sparks: new Map(), packets: new Map(), Socket: null };
    primus.on("connection", (spark) => {
      const name = spark.query.name;
      node.sparks.set(name, spark);
      node.packets.set(name, []);
      if (record) spark.on("outgoing::data", (packet) => node.packets.get(name).push(packet));
    });
    await new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    node.port = server.address().port;
    this.nodes.push(node);
    return node;
  }

  // Waits until every node (plus `extra` other connections) holds its pattern subscription.
  async subscribed(extra = 0) {
    const want = this.nodes.length + extra;
    await waitFor(async () => (await patternSubscribers(this.redis.port)) >= want, 5000, { what: `${want} pattern subscribers` });
  }

  // A Primus Node client named `name` on `node`; resolves with { client, spark, received }.
  async connect(node, name) {
    if (node.Socket === null) node.Socket = node.primus.Socket;
    const client = new node.Socket(`http://127.0.0.1:${node.port}/?name=${encodeURIComponent(name)}`, { strategy: false });
    const received = [];
    // (the client library runs in its own context: its objects get this one's prototypes for deepEqual)
    client.on("data", (d) => received.push(JSON.parse(JSON.stringify(d))));
    client.on("error", () => {});
    this.clients.push(client);
    await waitFor(() => node.sparks.has(name), 5000, { what: `spark ${name} on :${node.port}` });
    return { client, spark: node.sparks.get(name), received };
  }

  async close() {
    for (const c of this.clients) c.end();
    this.clients = [];
    for (const node of this.nodes) {
      await bounded(new Promise((resolve) => node.primus.destroy({ timeout: 0 }, resolve)), 5000);
      if (node.kind === "upstream") {
        for (const c of [node.primus.rooms.redis.pub, node.primus.rooms.redis.sub]) {
          await bounded(new Promise((resolve) => c.quit(() => resolve())), 2000);
          c.end(false);
        }
      }
    }
    this.nodes = [];
  }
}

// A websocket client speaking the handshake by hand, so that the frames the server writes are seen as raw
// bytes: resolves with { bytes() (everything received after the handshake), close() }.
function rawWebSocket(port, name) {
  const net = require("node:net");
  const crypto = require("node:crypto");
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    const key = crypto.randomBytes(16).toString("base64");
    let buf = Buffer.alloc(0);
    let open = false;
    sock.on("error", reject);
    sock.on("connect", () => {
      sock.write(
        `GET /primus?name=${encodeURIComponent(name)} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      if (open) return;
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      if (!/^HTTP\/1.1 101/.test(buf.toString("latin1", 0, end))) return reject(new Error(buf.toString("latin1", 0, end)));
      open = true;
      buf = buf.subarray(end + 4);
      resolve({ bytes: () => buf, close: () => sock.destroy() });
    });
  });
}

module.exports = { Fleet, patternSubscribers, rawWebSocket, ours, upstream };
