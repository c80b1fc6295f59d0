// The Primus plugin (socket.io-hiredis-adapter/primus), typed, from CommonJS TypeScript.
import primusPlugin = require("socket.io-hiredis-adapter/primus");
import { createClient } from "socket.io-hiredis-adapter";

declare const primus: primusPlugin.PrimusServer & { plugin(name: string, energon: unknown): unknown };
declare const spark: primusPlugin.PrimusSpark;

primus.plugin("redis", primusPlugin);
const same: typeof primusPlugin = primusPlugin.server;
const rooms = primusPlugin(primus, { redis: { host: "127.0.0.1", port: 6379, channel: "app", auth_pass: "secret", retry_strategy: () => 100 } });
primusPlugin(primus, { redis: "redis://127.0.0.1:6379" });
primusPlugin(primus, { redis: { sentinel: true, endpoints: [{ host: "10.0.0.1", port: 26379 }], masterName: "mymaster", role: "slave" } });
primusPlugin(primus, { redis: { client: createClient(), channel: "app" } });
const room: primusPlugin.Room = spark.join("lobby");
room.write({ hello: "world" });
const clients: primusPlugin.PrimusSpark[] = rooms.room("lobby").clients();
const left: primusPlugin.Room | undefined = spark.leave("lobby");
spark.leaveAll();
const received: number = rooms.stats.received + rooms.stats.passthrough;
rooms.on("error", (err) => console.warn(err.code, err.role));
rooms.close().then(() => undefined);
// @ts-expect-error room names are strings
rooms.room(5);
export { same, clients, left, received };
