"use strict";
// bench/streams.js part 2: one server (kind "ours" or "upstream", default blockTimeInMs) on the Redis at
// argv[3]; once its reader is blocked in XREAD, io.close() (and, for upstream, quit() of the client it was
// given, as an app would); prints the ms from io.close() to the process's exit.
const { Server } = require("socket.io");
const { redisCli } = require("../../test/helpers/redis");
const { createStreamsAdapter } = require("../..");

const [kind, url] = process.argv.slice(2);
const port = Number(new URL(url).port);

(async () => {
  let client = null;
  let adapter;
  if (kind === "ours") {
    adapter = createStreamsAdapter(url);
  } else {
    const { createAdapter } = require("@socket.io/redis-streams-adapter");
    client = require("redis").createClient({ url });
    client.on("error", () => {});
    await client.connect();
    adapter = createAdapter(client);
  }
  const io = new Server({ adapter });
  io.listen(0);
  for (let i = 0; i < 500; i++) {
    if (/ cmd=xread /.test(await redisCli(port, "CLIENT", "LIST"))) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const t0 = Date.now();
  process.on("exit", () => console.log(`closed-to-exit ${Date.now() - t0}`));
  await io.close();
  if (client) await client.quit();
})();
