"use strict";
// An emitter script whose Redis is unreachable (argv[2]). It must say so and end by itself, never hang.
//   argv[3] "await":    awaits serverSideEmitWithAck without a catch: Node reports the rejection and exits 1
//   argv[3] "listen":   listens on emitter.client 'error', catches the rejection, prints both
//   argv[3] "nothing":  no listener, catches the rejection: the client's one warning goes to stderr
// argv[4]: queueTimeout in ms ("" for the default).
const { Emitter } = require("../../..");
const [url, mode, queueTimeout] = process.argv.slice(2);
const emitter = new Emitter(url, queueTimeout ? { queueTimeout: Number(queueTimeout) } : {});
const started = Date.now();
process.on("exit", (code) => console.log(`exit ${code} after ${Date.now() - started} ms, dropped ${emitter.dropped}`));
if (mode === "listen") emitter.client.on("error", (err) => console.log(`error event ${err.code}`));
emitter.to("room1").emit("never", 1);
emitter.socketsJoin("room2");
if (mode === "await") {
  (async () => {
    await emitter.serverSideEmitWithAck("question");
    console.log("resolved");
  })();
} else {
  emitter.serverSideEmitWithAck("question").then(
    () => console.log("resolved"),
    (err) => console.log(`rejected ${err.code}: ${err.message}`),
  );
  emitter.timeout(1000).emit("ping", (err) => console.log(`ack callback ${err && err.code}`));
}
