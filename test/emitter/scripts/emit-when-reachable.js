"use strict";
// Started while Redis is unreachable: emits at once, then ends by itself once the messages are out.
const { Emitter } = require("../../..");
const emitter = new Emitter(process.argv[2]);
emitter.to("room1").emit("late", "queued");
emitter.in("room1").socketsJoin("late-room");
console.log("queued");
