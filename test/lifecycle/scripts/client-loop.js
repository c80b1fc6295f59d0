"use strict";
// Clients created and closed in a loop, some while still connecting, some with commands pending.
// Exits on its own (no process.exit): a leaked handle makes it hang, a leak shows under valgrind/ASan.
const { createClient } = require("../../..");
const url = process.argv[2];
const rounds = Number(process.argv[3] || 20);

(async () => {
  for (let i = 0; i < rounds; i++) {
    const c = createClient(url);
    c.on("error", () => {});
    if (i % 3 === 0) {
      await c.close(); // while connecting
      continue;
    }
    await new Promise((r) => c.once("ready", r));
    const pending = [c.command(["PING"]), c.command(["ECHO", "x".repeat(i * 100)])];
    // Commands still pending at close() are rejected with ECLOSED: observe that, do not crash on it.
    pending.forEach((p) => p.catch(() => {}));
    if (i % 3 === 1) await Promise.all(pending);
    await c.close();
    await Promise.allSettled(pending);
  }
  // A client that can never connect, closed while waiting to retry.
  const dead = createClient("redis://127.0.0.1:1");
  dead.on("error", () => {});
  await new Promise((r) => dead.once("reconnecting", r));
  await dead.close();
  console.log("ok");
})();
