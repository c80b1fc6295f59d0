"use strict";
// lib/loader.js (which binary is loaded) and scripts/install.js (prebuilt binary or source build), on
// throw-away package directories: prebuildify file names and tags, the order source build > prebuilt,
// the error when nothing loads, and when the install script falls back to node-gyp.
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const loader = require("../../lib/loader");

const repo = path.join(__dirname, "..", "..");
const built = loader.load().file; // the addon these tests run against (a source build)

describe("native addon loader and install script", function () {
  this.timeout(20000); // child processes, slow under ASan
  const dirs = [];
  // The choice under test must not be forced by the environment (scripts/test-asan.sh sets Debug).
  let forced;
  before(function () {
    forced = process.env.HIREDIS_ADAPTER_BUILD;
    delete process.env.HIREDIS_ADAPTER_BUILD;
  });
  after(function () {
    if (forced !== undefined) process.env.HIREDIS_ADAPTER_BUILD = forced;
  });
  afterEach(function () {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  // A package directory with lib/loader.js, scripts/install.js and the given prebuilds/<platform>-<arch>/ files.
  function fakePackage(prebuilds) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "hra-loader-"));
    dirs.push(root);
    fs.mkdirSync(path.join(root, "lib"));
    fs.mkdirSync(path.join(root, "scripts"));
    fs.copyFileSync(path.join(repo, "lib", "loader.js"), path.join(root, "lib", "loader.js"));
    fs.copyFileSync(path.join(repo, "scripts", "install.js"), path.join(root, "scripts", "install.js"));
    const dir = loader.prebuildDir(root);
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, content] of Object.entries(prebuilds)) {
      if (content === "addon") fs.copyFileSync(built, path.join(dir, name));
      else fs.writeFileSync(path.join(dir, name), content);
    }
    return root;
  }

  it("picks Node-API binaries for this libc only, libc-tagged first", function () {
    if (process.platform !== "linux") this.skip();
    const other = loader.libc() === "glibc" ? "musl" : "glibc";
    const root = fakePackage({
      [`node.napi.${loader.libc()}.node`]: "x",
      [`node.napi.${other}.node`]: "x",
      "node.napi.node": "x",
      "node.abi115.node": "x",
      "electron.napi.node": "x",
      "README.md": "x",
    });
    const names = loader.prebuildCandidates(root).map((f) => path.basename(f));
    assert.deepEqual(names, [`node.napi.${loader.libc()}.node`, "node.napi.node"]);
  });

  it("a source build wins over the prebuilt binary; HIREDIS_ADAPTER_BUILD=prebuild forces the latter", function () {
    const root = fakePackage({ [`node.napi${loader.libc() ? "." + loader.libc() : ""}.node`]: "addon" });
    fs.mkdirSync(path.join(root, "build", "Release"), { recursive: true });
    fs.copyFileSync(built, path.join(root, "build", "Release", "hiredis_adapter.node"));
    assert.deepEqual(
      loader.candidates(root, undefined).map((c) => c.kind),
      ["Release", "Debug", "prebuild"],
    );
    assert.deepEqual(
      loader.candidates(root, "prebuild").map((c) => c.kind),
      ["prebuild"],
    );
    const run = (env) =>
      execFileSync(process.execPath, ["-e", `const l = require(${JSON.stringify(path.join(root, "lib", "loader.js"))}).load(); console.log(l.kind, typeof l.binding.conn_init)`], {
        env: { ...process.env, ...env },
        encoding: "utf8",
      }).trim();
    assert.equal(run({ HIREDIS_ADAPTER_BUILD: "" }), "Release function");
    assert.equal(run({ HIREDIS_ADAPTER_BUILD: "prebuild" }), "prebuild function");
    fs.rmSync(path.join(root, "build"), { recursive: true });
    assert.equal(run({ HIREDIS_ADAPTER_BUILD: "" }), "prebuild function");
  });

  it("nothing loadable: one error saying what was tried and how to build", function () {
    const root = fakePackage({ [`node.napi${loader.libc() ? "." + loader.libc() : ""}.node`]: "not an ELF file" });
    assert.throws(() => loader.load(root), (err) => {
      assert.equal(err.code, "ERR_HIREDIS_ADAPTER_NOT_BUILT");
      assert.match(err.message, /no usable native addon for/);
      assert.match(err.message, /Tried prebuilds\/.*node\.napi.*\.node: /);
      assert.match(err.message, /--build-from-source/);
      return true;
    });
    const empty = fakePackage({});
    assert.throws(() => loader.load(empty), /No prebuilt binary for .* and no source build found/);
  });

  describe("scripts/install.js", function () {
    // Runs the install script with a fake node-gyp that records that it was called.
    function install(root, env = {}) {
      const gyp = path.join(root, "fake-node-gyp.js");
      fs.writeFileSync(gyp, `require("fs").writeFileSync(${JSON.stringify(path.join(root, "gyp-called"))}, process.argv.slice(2).join(" "))`);
      let stderr = "";
      try {
        execFileSync(process.execPath, [path.join(root, "scripts", "install.js")], {
          env: { ...process.env, npm_config_node_gyp: gyp, npm_config_build_from_source: "", ...env },
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
        });
      } catch (err) {
        stderr = err.stderr;
        throw err;
      }
      const called = fs.existsSync(path.join(root, "gyp-called")) ? fs.readFileSync(path.join(root, "gyp-called"), "utf8") : null;
      return { called, stderr };
    }
    const tag = () => `node.napi${loader.libc() ? "." + loader.libc() : ""}.node`;

    it("keeps a prebuilt binary that loads: no build", function () {
      const root = fakePackage({ [tag()]: "addon" });
      assert.equal(install(root).called, null);
    });

    it("builds from source when the prebuilt binary does not load, when there is none, and with --build-from-source", function () {
      assert.equal(install(fakePackage({ [tag()]: "garbage" })).called, "rebuild");
      assert.equal(install(fakePackage({})).called, "rebuild");
      assert.equal(install(fakePackage({ [tag()]: "addon" }), { npm_config_build_from_source: "true" }).called, "rebuild");
    });

    it("a checkout (native/binding_test.c present) always builds: the tests need the test addon", function () {
      const root = fakePackage({ [tag()]: "addon" });
      fs.mkdirSync(path.join(root, "native"));
      fs.writeFileSync(path.join(root, "native", "binding_test.c"), "");
      assert.equal(install(root).called, "rebuild");
    });
  });
});
