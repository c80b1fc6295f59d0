"use strict";
// What every bench child process shares with the driver (bench/lib/harness.js): the IPC command loop, the
// process's own CPU clock, the "sentinel" count (a message that tells the driver that everything published
// before it has been processed here), and the delivery counter of a client process.
const { performance } = require("node:perf_hooks");

const now = () => performance.timeOrigin + performance.now();

// The CPU time of this process since the last start(), and the driver's commands that read it: cpuStart,
// cpuRead, and sentinel({ k }) (resolves with the CPU time once the k-th sentinel has arrived). Call seen()
// when a sentinel arrives.
function cpuClock() {
  let t0 = process.cpuUsage();
  let seenCount = 0;
  let waiter = null;
  const micros = () => {
    const d = process.cpuUsage(t0);
    return d.user + d.system;
  };
  const start = () => {
    t0 = process.cpuUsage();
  };
  return {
    micros,
    start,
    seen() {
      seenCount++;
      if (waiter) {
        const w = waiter;
        waiter = null;
        w();
      }
    },
    commands: {
      cpuStart: () => {
        start();
        return { t: now() };
      },
      cpuRead: () => ({ cpuMicros: micros(), t: now() }),
      sentinel: ({ k }) =>
        new Promise((resolve) => {
          const check = () => {
            if (seenCount >= k) resolve({ cpuMicros: micros(), t: now() });
            else waiter = check;
          };
          check();
        }),
    },
  };
}

// Answers the driver: { id, cmd, args } -> { id, result } or { id, error }; a message without an id is a
// notice, handed whole to notices[cmd] with no answer. "exit" ends the process; under --cpu-prof it calls
// close() and lets the process end by itself, so that the profile is written.
function serve(commands, close = () => {}, notices = {}) {
  process.on("message", async (m) => {
    if (m.id === undefined && m.cmd !== "exit") {
      if (Object.hasOwn(notices, m.cmd)) notices[m.cmd](m);
      return;
    }
    if (m.cmd === "exit") {
      if (process.execArgv.some((a) => a.startsWith("--cpu-prof"))) {
        close();
        process.disconnect();
        setTimeout(() => process.exit(0), 2000).unref();
        return;
      }
      process.exit(0);
    }
    try {
      const fn = Object.hasOwn(commands, m.cmd) ? commands[m.cmd] : null;
      if (!fn) throw new Error(`unknown command ${m.cmd}`);
      process.send({ id: m.id, result: await fn(m.args || {}) });
    } catch (err) {
      process.send({ id: m.id, error: String((err && err.stack) || err) });
    }
  });
}

// A client process's count of deliveries over its n clients. The driver sends "expect" { total, step }:
// the count restarts; {progress: perClient} is reported each time `step` more deliveries per client have
// arrived (on average), and {done: true, t, count} at `total`. Returns the function to call per delivery.
function deliveryCounter(n) {
  let count = 0;
  let total = Infinity;
  let stepTotal = Infinity;
  let nextReport = Infinity;
  serve({
    expect: ({ total: t, step }) => {
      count = 0;
      total = t;
      stepTotal = step * n;
      nextReport = stepTotal;
      return {};
    },
    count: () => ({ count }),
  });
  return function delivered() {
    count++;
    if (count >= nextReport) {
      process.send({ progress: Math.floor(count / n) });
      nextReport += stepTotal;
    }
    if (count === total) process.send({ done: true, t: now(), count });
  };
}

// Runs the process's async setup; a failure ends the process with its error.
function main(fn) {
  fn().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

module.exports = { now, cpuClock, serve, deliveryCounter, main };
