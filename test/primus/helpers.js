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

  // kind "ours" or "upstream"; redis: extra options.redis keys; opts: extra Primus options.
  async node(kind = "ours", redis = {}, opts = {}) {
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
      spark.on("outgoing::data", (packet) => node.packets.get(name).push(packet));
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

module.exports = { Fleet, patternSubscribers, ours, upstream };
