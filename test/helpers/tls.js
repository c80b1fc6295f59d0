"use strict";

// Certificates for the TLS tests, made with the openssl CLI into a temporary directory, once per process:
// a CA; a server certificate for localhost, 127.0.0.1 and ::1 (with clientAuth too, since redis-server
// presents it on its own outgoing cluster-bus and replication links); a client certificate (mutual TLS)
// and an encrypted copy of its key; and the bad ones: a server certificate of another CA, one for another
// host name, an expired one, and a client certificate of another CA; and one for the name localhost only. EC P-256 keys: quick to make.

const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const tls = require("node:tls");

const OPENSSL = process.env.OPENSSL_BIN || "openssl";
const PASSPHRASE = "hra-test-passphrase";

let made = null;

process.on("exit", () => {
  if (made) fs.rmSync(made.dir, { recursive: true, force: true });
});

function openssl(dir, args) {
  execFileSync(OPENSSL, args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function makeCa(dir, name, cn) {
  openssl(dir, ["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "30", "-subj", `/CN=${cn}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
}

// A leaf certificate signed by `ca`; `san` e.g. "DNS:localhost,IP:127.0.0.1"; `days` may be negative.
function makeLeaf(dir, name, ca, { cn, san, usage, days = 30 }) {
  openssl(dir, ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
  const ext = [`extendedKeyUsage=${usage}`, "basicConstraints=CA:FALSE"];
  if (san) ext.push(`subjectAltName=${san}`);
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext.join("\n") + "\n");
  openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.crt`, "-days", String(days), "-extfile", `${name}.ext`]);
}

function pair(dir, name) {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  return { name, certFile, keyFile, cert: fs.readFileSync(certFile, "utf8"), key: fs.readFileSync(keyFile, "utf8") };
}

function certs() {
  if (made) return made;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hra-tls-"));
  const SERVER = "DNS:localhost,IP:127.0.0.1,IP:::1";
  makeCa(dir, "ca", "hra test CA");
  makeCa(dir, "otherca", "hra other CA");
  makeLeaf(dir, "server", "ca", { cn: "localhost", san: SERVER, usage: "serverAuth,clientAuth" });
  makeLeaf(dir, "client", "ca", { cn: "hra-client", usage: "clientAuth" });
  makeLeaf(dir, "otherserver", "otherca", { cn: "localhost", san: SERVER, usage: "serverAuth,clientAuth" });
  makeLeaf(dir, "otherclient", "otherca", { cn: "hra-other-client", usage: "clientAuth" });
  makeLeaf(dir, "wronghost", "ca", { cn: "wrong.example", san: "DNS:wrong.example", usage: "serverAuth,clientAuth" });
  makeLeaf(dir, "dnsonly", "ca", { cn: "localhost", san: "DNS:localhost", usage: "serverAuth,clientAuth" });
  makeLeaf(dir, "expired", "ca", { cn: "localhost", san: SERVER, usage: "serverAuth,clientAuth", days: -1 });
  openssl(dir, ["pkey", "-in", "client.key", "-aes256", "-passout", `pass:${PASSPHRASE}`, "-out", "client-enc.key"]);
  made = {
    dir,
    caFile: path.join(dir, "ca.crt"),
    ca: fs.readFileSync(path.join(dir, "ca.crt"), "utf8"),
    otherCa: fs.readFileSync(path.join(dir, "otherca.crt"), "utf8"),
    server: pair(dir, "server"),
    client: pair(dir, "client"),
    clientEncrypted: { key: fs.readFileSync(path.join(dir, "client-enc.key"), "utf8"), passphrase: PASSPHRASE },
    otherServer: pair(dir, "otherserver"),
    otherClient: pair(dir, "otherclient"),
    wrongHost: pair(dir, "wronghost"),
    // for localhost by name only (no IP address): verified against an IP, it fails
    dnsOnly: pair(dir, "dnsonly"),
    expired: pair(dir, "expired"),
  };
  return made;
}

// The redis-server arguments of a TLS listener on `tlsPort` presenting `server` (a pair of certs()),
// trusting the test CA; authClients "no" (default here), "yes" (mutual TLS) or "optional".
function redisTlsArgs(tlsPort, { server, authClients = "no" } = {}) {
  const c = certs();
  const s = server || c.server;
  return ["--tls-port", String(tlsPort), "--tls-cert-file", s.certFile, "--tls-key-file", s.keyFile, "--tls-ca-cert-file", c.caFile, "--tls-auth-clients", authClients];
}

// redis-cli's TLS arguments (with the client certificate, which a server without mutual TLS ignores).
function cliTlsArgs() {
  const c = certs();
  return ["--tls", "--cacert", c.caFile, "--cert", c.client.certFile, "--key", c.client.keyFile];
}

// A raw TLS PING to 127.0.0.1:port: resolves true on +PONG or -NOAUTH, false otherwise, within timeoutMs.
function tlsPing(port, timeoutMs = 500) {
  const c = certs();
  return new Promise((resolve) => {
    let data = "";
    const sock = tls.connect({ host: "127.0.0.1", port, ca: c.ca, cert: c.client.cert, key: c.client.key, rejectUnauthorized: false });
    const finish = (ok) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on("secureConnect", () => sock.write("*1\r\n$4\r\nPING\r\n"));
    sock.on("data", (chunk) => {
      data += chunk.toString("latin1");
      if (data.includes("\r\n")) finish(data.startsWith("+PONG") || data.startsWith("-NOAUTH"));
    });
    sock.on("error", () => finish(false));
  });
}

module.exports = { certs, redisTlsArgs, cliTlsArgs, tlsPing, PASSPHRASE };
