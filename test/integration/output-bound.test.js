"use strict";
// The output to Redis is bounded (maxOutputMB): a peer that accepts our connection, answers the
// handshake and then stops reading must not make us buffer every publish forever.
const assert = require("node:assert/strict");
const { startPeer } = require("../helpers/peer");
const { waitFor, once } = require("../helpers/util");
const { createClient } = require("../..");

describe("bounded output (a Redis that stops reading)", function () {
  this.timeout(20000);
  let peer, client;

  afterEach(async () => {
    if (client) await client.close();
    if (peer) await peer.close();
    client = peer = null;
  });

  it("drops and counts publishes past maxOutputMB, rejects commands with ENOBUFS, then fails the connection", async function () {
    // Answers the handshake's PING (if any) in the first chunk it reads, then never reads again.
    peer = await startPeer((socket) => {
      socket.once("data", (d) => {
        if (d.includes("PING")) socket.write("+PONG\r\n");
        socket.pause();
      });
    });
    // holdMs 0: the connection's publishes are not carried over to its replacement (outage-extended and
    // freeze test holding them within maxOutputMB).
    client = createClient({ host: "127.0.0.1", port: peer.port, maxOutputMB: 8, healthInterval: 200, healthTimeout: 1000, retryMax: 200, holdMs: 0 });
    const errors = [];
    client.on("error", (err) => errors.push(err));
    await once(client, "ready", 5000);

    const mib = Buffer.alloc(1 << 20, 0x61);
    let accepted = 0;
    for (let i = 0; i < 400; i++) if (client.publish("ch", mib)) accepted++;
    // 8 MiB queued plus what the kernel's socket buffers took; without the bound all 400 were accepted.
    assert.ok(accepted < 40, `accepted ${accepted} of 400 publishes`);
    const st = client.stats();
    assert.ok(st.publishDropped >= 400 - accepted, `publishDropped ${st.publishDropped}`);
    assert.equal(st.command.commandsRefusedFull, 400 - accepted);
    await assert.rejects(client.command(["PING"]), (err) => err.code === "ENOBUFS");

    // The backlog does not drain: the health check fails the connection within healthTimeout (plus a tick).
    const t0 = Date.now();
    await waitFor(() => errors.some((e) => e.code === "ETIMEDOUT" && e.role === "command"), 4000, { what: "ETIMEDOUT on the command connection" });
    assert.ok(Date.now() - t0 < 3000);
    // What had been queued is counted as dropped too, once the replacement has taken over.
    await waitFor(() => client.stats().publishDropped >= 400 - 1, 2000, { what: "every publish counted" });
  });
});
