"use strict";
// A Primus 8 server process (websockets transformer) on our plugin or on primus-redis-rooms 0.3.2, driven by
// bench/primus.js over IPC. It measures its own CPU time (process.cpuUsage()).
//
//   argv[2]: JSON { impl: "ours" | "upstream", port (Redis), coalesceWrites, sentinelRooms: [...] }
//
// Sparks join the rooms listed in their query (`?rooms=a,b`). One in-process client sits in the rooms
// `sentinelRooms` (room "sentinel" first); a "sentinel" message to it tells the driver that everything
// published before it has been processed here.
const http = require("node:http");
const Primus = require("primus");
const { cpuClock, serve, main } = require("./child");

const cfg = JSON.parse(process.argv[2]);
const clock = cpuClock();

const commands = {
  ...clock.commands,
  stats: () => (cfg.impl === "ours" ? primus.rooms.stats : null),
};

let primus = null;

serve(commands, () => primus.destroy({ timeout: 0 }));

main(async () => {
  const server = http.createServer();
  const redis = { host: "127.0.0.1", port: cfg.port };
  if (cfg.impl === "ours") redis.coalesceWrites = cfg.coalesceWrites !== false;
  primus = new Primus(server, { transformer: "websockets", redis });
  if (cfg.impl === "ours") {
    primus.plugin("redis", require("../../lib/primus"));
    primus.rooms.on("error", (err) => console.error("redis:", err.message));
  } else {
    primus.plugin("redis", require("primus-redis-rooms"));
    for (const c of [primus.rooms.redis.pub, primus.rooms.redis.sub]) c.on("error", (err) => console.error("redis:", err.message));
  }
  primus.on("connection", (spark) => {
    const rooms = spark.query.rooms;
    if (rooms) for (const r of String(rooms).split(",")) spark.join(r);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const port = server.address().port;
  const rooms = (cfg.sentinelRooms || ["sentinel"]).join(",");
  const client = new primus.Socket(`http://127.0.0.1:${port}/?rooms=${encodeURIComponent(rooms)}`, { strategy: false });
  client.on("data", (d) => {
    if (d === "sentinel") clock.seen();
  });
  await new Promise((r) => client.once("open", r));
  // the spark has joined its rooms once the server saw the connection
  await new Promise((r) => setTimeout(r, 50));
  process.send({ up: true, port });
});
