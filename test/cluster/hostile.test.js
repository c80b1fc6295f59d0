"use strict";

// A cluster node that lies: a TCP server speaking RESP that answers CLUSTER SLOTS with topologies no real
// cluster sends. The client must refuse them with a clear error, keep going, and neither spin on them nor
// open a connection per invented node.

const assert = require("node:assert/strict");
const net = require("node:net");
const { createClient } = require("../..");
const { waitFor, sleep } = require("../helpers/util");

// Reads RESP commands (arrays of bulk strings) from a stream; calls onCommand(args) for each.
function commandReader(onCommand) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length === 0 || buf[0] !== 0x2a) return; // '*'
      let p = buf.indexOf("\r\n");
      if (p < 0) return;
      const n = parseInt(buf.subarray(1, p).toString(), 10);
      let off = p + 2;
      const args = [];
      for (let k = 0; k < n; k++) {
        p = buf.indexOf("\r\n", off);
        if (p < 0) return;
        const len = parseInt(buf.subarray(off + 1, p).toString(), 10);
        if (buf.length < p + 2 + len + 2) return;
        args.push(buf.subarray(p + 2, p + 2 + len).toString());
        off = p + 2 + len + 2;
      }
      buf = buf.subarray(off);
      onCommand(args);
    }
  };
}

const bulk = (s) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const endpoint = (host, port) => `*3\r\n${bulk(host)}:${port}\r\n${bulk("0123456789abcdef0123456789abcdef01234567")}`;

// A fake node: every CLUSTER SLOTS gets slotsReply(port); PING gets PONG; anything else +OK.
function fakeNode(slotsReply) {
  const sockets = new Set();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => {});
    sock.on(
      "data",
      commandReader((args) => {
        const cmd = args.map((a) => a.toUpperCase());
        if (cmd[0] === "CLUSTER" && cmd[1] === "SLOTS") {
          server.slotsAsked++;
          sock.write(slotsReply(server.address().port));
        } else if (cmd[0] === "PING") sock.write("+PONG\r\n");
        else sock.write("+OK\r\n");
      }),
    );
  });
  server.slotsAsked = 0;
  server.connections = () => sockets.size;
  server.stop = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(resolve);
    });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe("Redis Cluster: a node that sends impossible topologies", function () {
  this.timeout(30000);
  const closers = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  async function clientOf(node) {
    const c = createClient({ cluster: [{ host: "127.0.0.1", port: node.address().port }] });
    const errors = [];
    c.on("error", (err) => errors.push(err));
    closers.push(() => c.close());
    return { c, errors };
  }

  it("refuses overlapping slot ranges (200,000 ranges of every slot) without applying or spinning on them", async function () {
    const ranges = 200000;
    let reply = null;
    const node = await fakeNode((port) => {
      if (reply === null) {
        const one = `*3\r\n:0\r\n:16383\r\n${endpoint("127.0.0.1", port)}`;
        reply = `*${ranges}\r\n${one.repeat(ranges)}`;
      }
      return reply;
    });
    closers.push(() => node.stop());
    const { c, errors } = await clientOf(node);
    // The event loop keeps turning while the reply is handled (a timer that must keep firing).
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    closers.push(() => clearInterval(timer));
    await waitFor(() => errors.some((e) => e.code === "EPROTO" && /overlapping/.test(e.message)), 15000, { what: "the EPROTO refusal" });
    const before = ticks;
    await waitFor(() => ticks > before + 5, 5000, { what: "the loop to keep turning" });
    assert.equal(c.isReady, false);
    assert.equal(c.stats().command.clusterSlotsCovered, 0, "nothing of the refused map was applied");
    // It keeps asking (the topology is still unknown), and keeps refusing.
    const asked = node.slotsAsked;
    await waitFor(() => node.slotsAsked > asked, 5000, { what: "another CLUSTER SLOTS" });
  });

  it("refuses a topology naming more than 1000 nodes, and opens no connection to them", async function () {
    const invented = 3000;
    const node = await fakeNode((port) => {
      // slot i on an invented node 127.0.0.1:(20000 + i) for the first 3000 slots, the rest on this node
      let out = `*${invented + 1}\r\n`;
      for (let i = 0; i < invented; i++) out += `*3\r\n:${i}\r\n:${i}\r\n${endpoint("127.0.0.1", 20000 + i)}`;
      out += `*3\r\n:${invented}\r\n:16383\r\n${endpoint("127.0.0.1", port)}`;
      return out;
    });
    closers.push(() => node.stop());
    const { c, errors } = await clientOf(node);
    await waitFor(() => errors.some((e) => e.code === "ELIMIT"), 10000, { what: "the ELIMIT refusal" });
    await sleep(300);
    const st = c.stats().command;
    assert.ok(st.clusterNodes <= 2, `nodes kept: ${st.clusterNodes}`);
    assert.equal(st.clusterSlotsCovered, 0);
    assert.equal(c.isReady, false);
    // ECONNREFUSED reports would name the invented nodes had they been dialled (a few may have been,
    // between their creation and the refusal, but not one per invented node).
    const dialled = errors.filter((e) => /127\.0\.0\.1:2\d{4}/.test(e.message)).length;
    assert.ok(dialled < 100, `errors naming invented nodes: ${dialled}`);
  });

  it("applies a legitimate one-node topology from the same fake node (the checks do not refuse real replies)", async function () {
    const node = await fakeNode((port) => `*1\r\n*3\r\n:0\r\n:16383\r\n${endpoint("127.0.0.1", port)}`);
    closers.push(() => node.stop());
    const { c } = await clientOf(node);
    await waitFor(() => c.isReady, 10000, { what: "ready on the fake node" });
    assert.equal(c.stats().command.clusterSlotsCovered, 16384);
  });
});
