/**
 * The published packages as users get them, packed once (one file, so the builds `npm pack`
 * runs never overlap):
 * - facevault with @facevault/client, installed from the tarballs into an empty folder, and the
 *   `facevault` bin run from there (help, token, serve with TLS, SIGHUP, SIGTERM). The tests
 *   elsewhere run src/main.ts through tsx and would not notice a broken bin or a missing file.
 * - @facevault/client alone, as a service that only calls facevault installs it: none of the
 *   server's engines or databases with it, and a plain Node script calling a running server
 *   over gRPC and Connect.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/test-server.js";
import { makeTestCertificate } from "./support/tls-certificates.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "facevault-pack-"));
const app = join(dir, "app");
const bin = join(app, "node_modules", ".bin", "facevault");
const env = { ...process.env, FACEVAULT_DATA_DIR: join(app, "data"), LOG_LEVEL: "info" };
let child: ChildProcess | undefined;
let clientTarball: string;

beforeAll(async () => {
  // The server and the client package it uses, installed together as a published pair would be.
  const pack = async (...workspace: string[]) => {
    const { stdout } = await run(
      "npm",
      ["pack", "--silent", ...workspace, "--pack-destination", dir],
      { cwd: root, maxBuffer: 1 << 24 },
    );
    return join(dir, stdout.trim().split("\n").pop() ?? "");
  };
  const tarballs = [await pack("--workspace", "@facevault/client"), await pack()];
  clientTarball = tarballs[0] as string;
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
      ...tarballs,
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
    expect(stdout).toMatch(/^Usage: facevault \[options\] \[command\]/);
    for (const command of ["serve", "token", "enroll", "rekey", "export", "import"]) {
      expect(stdout).toMatch(new RegExp(`^ {2}${command} `, "m"));
    }
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

describe("@facevault/client installed on its own", () => {
  const alone = join(dir, "client-only");
  let server: TestServer | undefined;
  beforeAll(async () => {
    mkdirSync(alone);
    writeFileSync(join(alone, "package.json"), '{ "private": true, "type": "module" }\n');
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", clientTarball], {
      cwd: alone,
      maxBuffer: 1 << 24,
    });
    server = await startTestServer();
  });
  afterAll(async () => server?.close());

  it("brings none of the server's engines or databases", () => {
    const modules = join(alone, "node_modules");
    const scoped = (scope: string) =>
      existsSync(join(modules, scope))
        ? readdirSync(join(modules, scope)).map((p) => `${scope}/${p}`)
        : [];
    const all = [
      ...readdirSync(modules),
      ...scoped("@tensorflow"),
      ...scoped("@vladmandic"),
      ...scoped("@opentelemetry"),
    ];
    for (const heavy of [
      "facevault",
      "sharp",
      "better-sqlite3",
      "pg",
      "onnxruntime-node",
      "@tensorflow/tfjs",
      "@vladmandic/human",
      "@opentelemetry/sdk-node",
    ]) {
      expect(all, heavy).not.toContain(heavy);
    }
    expect(scoped("@facevault")).toEqual(["@facevault/client"]);
  });

  it("calls a running server over gRPC and Connect", async () => {
    const { alice } = (server as TestServer).clients;
    writeFileSync(
      join(alone, "call.mjs"),
      `import { createConnectClient, createGrpcJsClient, createTokenSource } from "@facevault/client";
const token = createTokenSource({ clientId: process.env.CLIENT_ID, key: process.env.CLIENT_KEY });
const grpc = createGrpcJsClient({ address: process.env.ADDRESS, token });
const viaGrpc = await grpc.getTemplateStatus({ classId: 17n });
grpc.close();
const connect = createConnectClient({ baseUrl: "http://" + process.env.ADDRESS, token });
const viaConnect = await connect.getTemplateStatus({ classId: 18n });
console.log(JSON.stringify([String(viaGrpc.classId), viaGrpc.available, String(viaConnect.classId)]));
`,
    );
    const { stdout } = await run(process.execPath, ["call.mjs"], {
      cwd: alone,
      env: {
        ...process.env,
        ADDRESS: (server as TestServer).address,
        CLIENT_ID: alice.clientId,
        CLIENT_KEY: alice.key,
      },
    });
    expect(JSON.parse(stdout)).toEqual(["17", false, "18"]);
  });
});
