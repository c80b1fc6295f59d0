"use strict";
// Starts a server on createStreamsAdapter with a 20 s XREAD BLOCK, waits until the reader is blocked,
// closes it and prints how long the process took from io.close() to exit. No process.exit: a handle
// left open shows up as a late exit.
const { Server } = require("socket.io");
const { createStreamsAdapter } = require("../../..");
const { redisCli } = require("../../helpers/redis");

const url = process.argv[2];
const port = Number(new URL(url).port);

(async () => {
  const io = new Server({ adapter: createStreamsAdapter(url, { blockTimeInMs: 20000 }) });
  io.listen(0);
  for (let i = 0; i < 250; i++) {
    const list = await redisCli(port, "CLIENT", "LIST");
    if (/ cmd=xread /.test(list)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const t0 = Date.now();
  process.on("exit", () => console.log(`closed-to-exit ${Date.now() - t0}`));
  io.close();
})();
