/**
 * The published package as a user gets it: `npm pack`, installed from the tarball into an empty
 * folder, and the `facevault` bin run from there (help, token, serve with TLS, SIGHUP, SIGTERM).
 * The tests elsewhere run src/main.ts through tsx and would not notice a broken bin or a file
 * missing from the package.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestCertificate } from "./support/tls-certificates.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "facevault-pack-"));
const app = join(dir, "app");
const bin = join(app, "node_modules", ".bin", "facevault");
const env = { ...process.env, FACEVAULT_DATA_DIR: join(app, "data"), LOG_LEVEL: "info" };
let child: ChildProcess | undefined;

beforeAll(async () => {
  const { stdout } = await run("npm", ["pack", "--silent", "--pack-destination", dir], {
    cwd: root,
    maxBuffer: 1 << 24,
  });
  const tarball = join(dir, stdout.trim().split("\n").pop() ?? "");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), '{ "private": true }\n');
  // Install scripts are skipped: better-sqlite3's would compile SQLite for minutes. Its native
  // addon is taken from this checkout's own install (same version, same machine), as a
  // prebuilt binary would be; everything else comes from the tarball and the npm cache.
  await run(
    "npm",
    [
      "install",
      "--omit=dev",
      "--ignore-scripts",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      tarball,
    ],
    { cwd: app, maxBuffer: 1 << 24 },
  );
  cpSync(
    join(root, "node_modules", "better-sqlite3", "build"),
    join(app, "node_modules", "better-sqlite3", "build"),
    { recursive: true },
  );
});

afterAll(() => {
  child?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

describe("the installed facevault command", () => {
  it("prints its usage", async () => {
    const { stdout } = await run(bin, ["--help"], { env });
    expect(stdout).toMatch(/^Usage:\n {2}facevault \[serve\] \[--config FILE\]/);
    expect(stdout).toMatch(/facevault token/);
  });

  it("mints a token for the development client", async () => {
    const { stdout } = await run(bin, ["token", "--minutes", "2"], { env });
    expect(stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it("serves TLS, takes a new certificate on SIGHUP and stops on SIGTERM", async () => {
    const first = makeTestCertificate(dir, "first");
    const second = makeTestCertificate(dir, "second");
    const live = { certFile: join(dir, "live.crt"), keyFile: join(dir, "live.key") };
    copyFileSync(first.certFile, live.certFile);
    copyFileSync(first.keyFile, live.keyFile);
    const config = join(dir, "facevault.json");
    writeFileSync(
      config,
      JSON.stringify({
        port: 0,
        host: "127.0.0.1",
        dataDir: join(dir, "served"),
        masterKey: randomBytes(32).toString("base64"),
        face: { workers: 1 },
        tls: live,
        clients: [{ clientId: "pack", keys: [randomBytes(64).toString("base64")] }],
      }),
    );
    child = spawn(bin, ["serve", "--config", config], { env });
    let output = "";
    child.stdout?.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      output += d.toString();
    });
    await expect
      .poll(() => output, { timeout: 60_000, interval: 200 })
      .toMatch(/"msg":"listening"/);
    const port = Number(/"port":(\d+)/.exec(output)?.[1]);
    const shown = () =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(
          {
            host: "127.0.0.1",
            port,
            ca: [first.cert, second.cert],
            servername: "localhost",
            ALPNProtocols: ["h2"],
          },
          () => {
            resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? "");
            socket.end();
          },
        );
        socket.on("error", reject);
      });
    expect(await shown()).toBe(first.fingerprint);

    const { stdout: token } = await run(bin, ["token", "--config", config], { env });
    const status = await new Promise<string>((resolve, reject) => {
      import("node:https").then(({ request }) => {
        const req = request(
          {
            host: "127.0.0.1",
            port,
            path: "/api/face/v1/template/status/5",
            ca: first.cert,
            servername: "localhost",
            headers: { authorization: `Bearer ${token.trim()}` },
          },
          (res) => {
            let text = "";
            res.on("data", (d: Buffer) => {
              text += d;
            });
            res.on("end", () => resolve(text));
          },
        );
        req.on("error", reject);
        req.end();
      }, reject);
    });
    expect(status).toMatch(/^\{"classId":5,"available":false/);

    copyFileSync(second.certFile, live.certFile);
    copyFileSync(second.keyFile, live.keyFile);
    child.kill("SIGHUP");
    await expect.poll(() => output, { timeout: 10_000 }).toMatch(/TLS certificate reloaded/);
    expect(await shown()).toBe(second.fingerprint);

    const exited = new Promise<number | null>((resolve) =>
      child?.once("exit", (code) => resolve(code)),
    );
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
