"use strict";
// Cluster clients in workers terminated at every stage (connecting, ready with sharded and classic
// subscriptions and a command in flight, retrying an unreachable seed), then one in the main thread
// closed with subscriptions: the cleanup hook and close() must release every node connection, the
// spare topology connection and the cluster's timer, so that the process ends by itself.
const { Worker, isMainThread, workerData } = require("node:worker_threads");

if (isMainThread) {
  const url = process.argv[2];
  (async () => {
    for (let i = 0; i < 6; i++) {
      const w = new Worker(__filename, { workerData: { url, mode: i % 3 } });
      await new Promise((r) => w.once("message", r));
      await w.terminate();
    }
    const { createClient } = require("../../..");
    const c = createClient({ cluster: [url] });
    c.on("error", () => {});
    await new Promise((r) => c.once("ready", r));
    for (let i = 0; i < 50; i++) c.sSubscribe(`lc-${i}`);
    c.pSubscribe("lc-*");
    await c.command(["SET", "lc", "1"]);
    await c.close();
    console.log("ok");
  })();
} else {
  const { parentPort } = require("node:worker_threads");
  const { createClient } = require("../../..");
  const { url, mode } = workerData;
  const c = createClient({ cluster: [mode === 2 ? "redis://127.0.0.1:1" : url] });
  c.on("error", () => {});
  if (mode === 0) parentPort.postMessage("started");
  else if (mode === 1) {
    c.once("ready", () => {
      for (let i = 0; i < 20; i++) c.sSubscribe(`w-${i}`);
      c.subscribe("w-classic");
      c.command(["PUBSUB", "NUMSUB", "w-classic"]).catch(() => {});
      parentPort.postMessage("ready");
    });
  } else c.once("error", () => parentPort.postMessage("retrying"));
  setInterval(() => {}, 1000);
}
