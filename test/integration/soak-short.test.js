"use strict";
// A short run of test/soak/soak.js (its own redis-server, 3 server processes, a clients process):
// zero loss and flat handles at 2000 msg/s for ~10 s; RSS gets warm-up slack.
const assert = require("node:assert/strict");
const { execFile } = require("node:child_process");
const path = require("node:path");

const SCRIPT = path.join(__dirname, "..", "soak", "soak.js");

function runSoak(args, timeoutMs) {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { timeout: timeoutMs, killSignal: "SIGINT", maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? err.signal) : 0, stdout, stderr });
    });
  });
}

describe("soak (short)", function () {
  this.timeout(60000);

  it("3 servers at 2000 msg/s for 10 s: zero loss, flat handles, bounded RSS", async function () {
    const { code, stdout, stderr } = await runSoak(["--seconds", "10", "--rate", "2000", "--interval", "1", "--rss-slack", "0.5", "--handles-slack", "0.15", "--json"], 50000);
    const line = stdout.split("\n").find((l) => l.startsWith("SOAK_RESULT "));
    assert.ok(line, `no SOAK_RESULT line (exit ${code}):\n${stdout}\n${stderr}`);
    const result = JSON.parse(line.slice("SOAK_RESULT ".length));
    assert.equal(result.error, undefined, result.error);
    const detail = `${result.verdict.lines.join("\n")}\n${JSON.stringify({ ...result, rows: undefined })}`;
    assert.equal(result.lost, 0, detail);
    assert.equal(result.gaps, 0, detail);
    assert.equal(result.disorder, 0, detail);
    assert.equal(result.received, result.expectedDeliveries, detail);
    assert.ok(result.sent > 0 && result.rows.length >= 9, detail);
    // the script's own verdict (flat RSS within +50%, flat handles, no loss) and its exit code agree
    assert.equal(result.verdict.pass, true, detail);
    assert.equal(code, 0, detail);
    // handles do not grow at all once the clients are connected
    for (let i = 0; i < 3; i++) {
      const handles = result.rows.slice(1).map((r) => r.servers[i].handles);
      assert.ok(Math.max(...handles) - Math.min(...handles) <= 2, `server ${i} handles: ${handles}`);
    }
    // a machine this test runs on sustains 2000 msg/s (x3 deliveries) without throttling much
    assert.ok(result.achieved >= 1500, detail);
  });
});
