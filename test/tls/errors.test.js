"use strict";

// TLS refusals reach 'error' with Node's codes, are retried with the reconnect backoff, and never fall
// back to plain text: a wrong CA, a wrong host name (the certificate's, or a servername), an expired
// certificate, mutual TLS without (or with a foreign) client certificate, a TLS client at a plain port.
// And what must work: mutual TLS with a client certificate (also with an encrypted key),
// rejectUnauthorized: false, an IP address verified against the certificate's IP SAN.

const assert = require("node:assert/strict");
const net = require("node:net");
const { startRedis, isRedisAvailable, freePort } = require("../helpers/redis");
const { waitFor } = require("../helpers/util");
const { certs } = require("../helpers/tls");
const lib = require("../..");

// Resolves with "ready" or the first error of a createClient(target), then closes it.
async function outcome(target, timeoutMs = 5000) {
  const client = lib.createClient(target);
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve("timeout"), timeoutMs);
      client.once("error", (err) => {
        clearTimeout(timer);
        resolve(err);
      });
      client.once("ready", () => {
        clearTimeout(timer);
        resolve("ready");
      });
    });
  } finally {
    await client.close();
  }
}

describe("TLS: verification and refusals", function () {
  this.timeout(30000);
  const servers = [];
  let c;

  before(async function () {
    if (!(await isRedisAvailable())) return this.skip();
    c = certs();
  });

  after(async function () {
    await Promise.all(servers.map((s) => s.stop()));
  });

  async function server(tls) {
    const s = await startRedis({ tls });
    servers.push(s);
    return s;
  }

  it("a server certificate from another CA is refused (SELF_SIGNED_CERT_IN_CHAIN / UNABLE_TO_VERIFY_LEAF_SIGNATURE)", async function () {
    const s = await server({});
    const err = await outcome({ url: s.tlsUrl, tls: { ca: c.otherCa } });
    assert.ok(err instanceof Error, String(err));
    assert.match(err.code, /^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/, err.message);
    assert.match(err.message, /localhost:\d+/);
    // Node's default trust store does not know the test CA either
    const err2 = await outcome(s.tlsUrl);
    assert.match(err2.code, /^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/, err2.message);
  });

  it("a certificate for another host name is refused (ERR_TLS_CERT_ALTNAME_INVALID), as is a servername it does not match", async function () {
    const s = await server({ server: c.wrongHost });
    const err = await outcome({ url: s.tlsUrl, tls: { ca: c.ca } });
    assert.equal(err.code, "ERR_TLS_CERT_ALTNAME_INVALID", err.message);
    assert.match(err.message, /Host: localhost/);
    // the right name, given as servername, passes
    assert.equal(await outcome({ url: s.tlsUrl, tls: { ca: c.ca, servername: "wrong.example" } }), "ready");
    const good = await server({});
    const err2 = await outcome({ url: good.tlsUrl, tls: { ca: c.ca, servername: "redis.example" } });
    assert.equal(err2.code, "ERR_TLS_CERT_ALTNAME_INVALID", err2.message);
    // an IP address is verified against the certificate's IP SANs (127.0.0.1 is one; 127.0.0.2 is not)
    assert.equal(await outcome({ host: "127.0.0.1", port: good.tlsPort, tls: { ca: c.ca } }), "ready");
    const err3 = await outcome({ host: "127.0.0.1", port: good.tlsPort, tls: { ca: c.ca, servername: "127.0.0.2" } });
    assert.equal(err3.code, "ERR_TLS_CERT_ALTNAME_INVALID", err3.message);
    assert.match(err3.message, /IP: 127\.0\.0\.2/);
  });

  it("an expired certificate is refused (CERT_HAS_EXPIRED)", async function () {
    const s = await server({ server: c.expired });
    const err = await outcome({ url: s.tlsUrl, tls: { ca: c.ca } });
    assert.equal(err.code, "CERT_HAS_EXPIRED", err.message);
  });

  it("rejectUnauthorized: false accepts any certificate (and nothing else changes)", async function () {
    const s = await server({ server: c.otherServer });
    assert.equal(await outcome({ url: s.tlsUrl, tls: { rejectUnauthorized: false } }), "ready");
    const client = lib.createClient({ url: s.tlsUrl, tls: { rejectUnauthorized: false, servername: "any.example" } });
    try {
      await new Promise((r) => client.once("ready", r));
      assert.equal(await client.command(["ECHO", "x".repeat(100000)]), "x".repeat(100000));
    } finally {
      await client.close();
    }
  });

  it("mutual TLS: refused without a client certificate, or with one of another CA; works with one (also with an encrypted key)", async function () {
    const s = await server({ authClients: "yes" });
    const none = await outcome({ url: s.tlsUrl, tls: { ca: c.ca } });
    assert.ok(none instanceof Error, String(none));
    // TLS 1.3: the server's alert comes after our side of the handshake (ECONNRESET if its reset overtakes it)
    assert.match(none.code, /^(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ECONNRESET)$/, `${none.code}: ${none.message}`);
    const foreign = await outcome({ url: s.tlsUrl, tls: { ca: c.ca, cert: c.otherClient.cert, key: c.otherClient.key } });
    assert.ok(foreign instanceof Error, String(foreign));
    assert.match(foreign.code, /^(ERR_SSL_TLSV1_ALERT_UNKNOWN_CA|ECONNRESET)$/, `${foreign.code}: ${foreign.message}`);
    assert.equal(await outcome({ url: s.tlsUrl, tls: { ca: c.ca, cert: c.client.cert, key: c.client.key } }), "ready");
    assert.equal(await outcome({ url: s.tlsUrl, tls: { ca: c.ca, cert: Buffer.from(c.client.cert), key: c.clientEncrypted.key, passphrase: c.clientEncrypted.passphrase } }), "ready");
    // node-redis's shape: the TLS settings inside `socket`
    assert.equal(await outcome({ socket: { host: "localhost", port: s.tlsPort, tls: true, ca: c.ca, cert: c.client.cert, key: c.client.key } }), "ready");
  });

  it("a wrong passphrase is refused at the call, before connecting", function () {
    assert.throws(() => lib.createClient({ host: "localhost", port: 1, tls: { ca: c.ca, cert: c.client.cert, key: c.clientEncrypted.key, passphrase: "nope" } }), {
      code: "ERR_INVALID_REDIS_TARGET",
      message: /invalid TLS settings/,
    });
  });

  it("a TLS target never talks plain text: a plain listener gets a TLS ClientHello, not the password", async function () {
    const seen = [];
    const plain = net.createServer((sock) => {
      sock.on("data", (d) => {
        seen.push(d);
        sock.destroy();
      });
      sock.on("error", () => {});
    });
    await new Promise((r) => plain.listen(0, "127.0.0.1", r));
    try {
      const err = await outcome({ host: "localhost", port: plain.address().port, password: "in-clear?", tls: { ca: c.ca } });
      assert.ok(err instanceof Error);
      assert.equal(err.code, "ECONNRESET", err.message);
      const bytes = Buffer.concat(seen);
      assert.equal(bytes[0], 0x16, "a TLS handshake record");
      assert.ok(!bytes.includes(Buffer.from("in-clear?")), "the password is not sent");
      assert.ok(bytes.includes(Buffer.from("localhost")), "SNI carries the host name");
    } finally {
      await new Promise((r) => plain.close(r));
    }
  });

  it("a failed handshake is retried with the reconnect backoff, and connects once the server presents a good certificate", async function () {
    const port = await freePort();
    const bad = await startRedis({ tls: { server: c.expired, port } });
    const client = lib.createClient({ host: "localhost", port: bad.tlsPort, tls: { ca: c.ca }, retryBase: 50, retryMax: 200 });
    const errors = [];
    const delays = [];
    client.on("error", (err) => errors.push(err.code));
    client.on("reconnecting", ({ delay }) => delays.push(delay));
    try {
      await waitFor(() => errors.length >= 6, 10000, { what: "repeated handshake failures" });
      assert.ok(errors.every((code) => code === "CERT_HAS_EXPIRED"), errors.join());
      assert.ok(delays.length >= 5 && delays.every((d) => d <= 200), `backoff delays ${delays.join()}`);
      assert.ok(!client.isReady);
      await bad.stop();
      const good = await startRedis({ tls: { port } });
      servers.push(good);
      await waitFor(() => client.isReady, 5000, { what: "ready once the certificate is good" });
      assert.equal(await client.command(["PING"]), "PONG");
    } finally {
      await client.close();
    }
  });
});
