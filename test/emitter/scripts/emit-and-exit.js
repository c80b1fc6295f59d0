"use strict";
// A cron-job style script: emit and return. The emitter must deliver and then let the process end.
const { Emitter } = require("../../..");
const emitter = new Emitter(process.argv[2]);
emitter.to("room1").emit("from-script", Date.now());
emitter.serverSideEmit("script-done");
console.log("sent");
