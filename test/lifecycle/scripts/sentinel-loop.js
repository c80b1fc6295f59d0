"use strict";
// Connections through Redis Sentinel opened and closed in every state: while the Sentinel is being asked,
// when ready, while retrying after ESENTINEL (no Sentinel reachable) or EUNKNOWNMASTER, an adapter on a
// Server, and workers terminated mid-question and when ready (the cleanup hook must close the Sentinel
// connections too). Exits on its own (no process.exit): a leaked handle makes it hang, a leak shows under
// valgrind/ASan. argv[2]: a redis+sentinel:// URL naming a master its Sentinel knows.
const { Worker, isMainThread, workerData, parentPort } = require("node:worker_threads");

if (!isMainThread) {
  const { createClient } = require("../../..");
  const c = createClient(workerData.url);
  c.on("error", () => {});
  if (workerData.mode === 0) parentPort.postMessage("asking");
  else c.once("ready", () => c.command(["PING"]).then(() => parentPort.postMessage("ready")));
  setInterval(() => {}, 1000);
} else {
  const http = require("node:http");
  const { Server } = require("socket.io");
  const { createClient, createAdapter } = require("../../..");
  const url = process.argv[2];
  const rounds = Number(process.argv[3] || 6);
  const once = (emitter, event, pred = () => true) =>
    new Promise((resolve) => {
      const h = (...args) => {
        if (!pred(...args)) return;
        emitter.off(event, h);
        resolve(args);
      };
      emitter.on(event, h);
    });

  (async () => {
    for (let i = 0; i < rounds; i++) {
      const c = createClient(url, i % 2 ? `${url}?role=replica` : undefined);
      c.on("error", () => {});
      if (i % 3 === 0) {
        await c.close(); // while the Sentinel is being asked
        continue;
      }
      await once(c, "ready");
      const pending = [c.command(["PING"]), c.command(["ROLE"])];
      pending.forEach((p) => p.catch(() => {}));
      await c.close();
      await Promise.allSettled(pending);
    }
    // No Sentinel reachable, and a name no Sentinel knows: closed while retrying after the error.
    const [host] = url.replace(/^[a-z+]+:\/\//, "").split("/");
    for (const t of ["redis+sentinel://127.0.0.1:1/mymaster", `redis+sentinel://${host}/no-such-master`]) {
      const c = createClient(t);
      const err = once(c, "error", (e) => e.code === "ESENTINEL" || e.code === "EUNKNOWNMASTER");
      c.on("error", () => {});
      await err;
      await c.close();
    }
    // An adapter through Sentinel on a Server.
    const srv = http.createServer();
    const io = new Server(srv, { adapter: createAdapter(url) });
    await new Promise((r) => srv.listen(0, "127.0.0.1", r));
    io.of("/").adapter.on("error", () => {});
    await io.of("/").adapter.serverCount();
    await new Promise((r) => io.close(r));
    // Workers terminated while asking and when ready.
    for (let mode = 0; mode < 2; mode++) {
      const w = new Worker(__filename, { workerData: { url, mode } });
      await new Promise((r) => w.once("message", r));
      await w.terminate();
    }
    console.log("ok");
  })();
}
