"use strict";
// Workers that open connections and are terminated mid-connection: the addon's cleanup hook must
// close every handle so the worker (and then the process) ends cleanly.
const { Worker, isMainThread, workerData } = require("node:worker_threads");

if (isMainThread) {
  const url = process.argv[2];
  (async () => {
    for (let i = 0; i < 6; i++) {
      const w = new Worker(__filename, { workerData: { url, mode: i % 3 } });
      await new Promise((r) => w.once("message", r));
      await w.terminate();
    }
    console.log("ok");
  })();
} else {
  const { parentPort } = require("node:worker_threads");
  const { createClient } = require("../../..");
  const { url, mode } = workerData;
  const target = mode === 2 ? "redis://127.0.0.1:1" : url;
  const c = createClient(target);
  c.on("error", () => {});
  if (mode === 0) parentPort.postMessage("started");
  else if (mode === 1) c.once("ready", () => c.command(["PING"]).then(() => parentPort.postMessage("ready")));
  else c.once("reconnecting", () => parentPort.postMessage("retrying"));
  setInterval(() => {}, 1000);
}
