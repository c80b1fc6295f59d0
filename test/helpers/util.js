"use strict";

// Small timing helpers shared by the integration and compat suites. Every wait is bounded.

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls `predicate` (sync or async) until it returns a truthy value, which is returned.
// Rejects with a descriptive error after `timeoutMs`.
async function waitFor(predicate, timeoutMs = 2000, { interval = 10, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const err = new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      if (lastError) err.cause = lastError;
      throw err;
    }
    await sleep(interval);
  }
}

// Returns a function that calls `done` after being called `n` times, and fails the
// test (through done(err)) if it is called more often than that.
function times(n, done) {
  let count = 0;
  return () => {
    count++;
    if (count === n) done();
    else if (count > n) done(new Error(`called ${count} times, expected ${n}`));
  };
}

// Resolves with the arguments of the next `event` on `emitter`, or rejects after `timeoutMs`.
function once(emitter, event, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for '${event}'`));
    }, timeoutMs);
    function listener(...args) {
      clearTimeout(timer);
      resolve(args);
    }
    emitter.once(event, listener);
  });
}

// Collects every call of `event` on each socket in `sockets` into arrays (index-aligned).
// Returns { calls: Array<Array<args>>, stop() } ; stop() removes the listeners.
function record(sockets, event) {
  const calls = sockets.map(() => []);
  const listeners = sockets.map((socket, i) => {
    const fn = (...args) => calls[i].push(args);
    socket.on(event, fn);
    return fn;
  });
  return {
    calls,
    counts: () => calls.map((c) => c.length),
    stop() {
      sockets.forEach((socket, i) => socket.off(event, listeners[i]));
    },
  };
}

// Fails if the predicate becomes true within `ms` (used to prove that something did NOT happen).
async function never(predicate, ms = 200, what = "unexpected condition") {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await predicate()) throw new Error(`${what} happened`);
    await sleep(10);
  }
}

// For cleanup paths: waits for `promise` at most `ms`, never rejects. Resolves true if it settled.
function bounded(promise, ms = 5000) {
  let timer;
  return Promise.race([
    Promise.resolve(promise).then(
      () => true,
      () => true
    ),
    new Promise((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]).finally(() => clearTimeout(timer));
}

module.exports = { sleep, waitFor, times, once, record, never, bounded };
