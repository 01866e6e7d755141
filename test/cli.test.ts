/**
 * The `facevault` command as a newcomer uses it: `serve` without a config starts development
 * mode and prints a curl example that answers; `token` prints a working JWT; a bad config
 * fails at start naming the field; SIGTERM stops the process cleanly.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
// The project root, where `--import tsx` resolves; the data dir comes from the environment.
const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "facevault-cli-"));
const env = { ...process.env, FACEVAULT_DATA_DIR: join(dir, "data"), PORT: "0", LOG_LEVEL: "warn" };
const run = promisify(execFile);
let child: ChildProcess | undefined;

afterAll(() => {
  child?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

describe("facevault serve in development mode", () => {
  it("starts, prints a curl example that answers, mints tokens and stops on SIGTERM", async () => {
    child = spawn(process.execPath, ["--import", "tsx", main, "serve"], { env, cwd: root });
    let output = "";
    child.stdout?.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      output += d.toString();
    });
    await expect.poll(() => output, { timeout: 60_000, interval: 200 }).toMatch(/Try it:/);
    const base = /listening: (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    expect(base, output).toBeDefined();
    expect(output).toMatch(/client id: dev-[0-9a-f]{8}/);
    expect(output).toContain(`${base}/api/face/v1/template/status/1`);

    // The dev client and master key are private files.
    for (const file of ["dev-client.json", "master.key"]) {
      expect(statSync(join(dir, "data", file)).mode & 0o777).toBe(0o600);
    }

    const { stdout: token } = await run(
      process.execPath,
      ["--import", "tsx", main, "token", "--minutes", "2"],
      { env, cwd: root },
    );
    expect(token.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const res = await fetch(`${base}/api/face/v1/template/status/1`, {
      headers: { authorization: `Bearer ${token.trim()}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ classId: 1, available: false });
    const page = await fetch(`${base}/`);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(await page.text()).toContain("/api/face/v1/enroll/");

    const exited = new Promise<number | null>((resolve) =>
      child?.once("exit", (code) => resolve(code)),
    );
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});

describe("configuration errors", () => {
  it("fails at start with a message naming the field", async () => {
    const config = join(dir, "bad.json");
    writeFileSync(
      config,
      JSON.stringify({
        masterKey: Buffer.alloc(32).toString("base64"),
        clients: [{ clientId: "a", keys: ["c2hvcnQ="] }],
      }),
    );
    const failure = await run(
      process.execPath,
      ["--import", "tsx", main, "serve", "--config", config],
      {
        env,
        cwd: root,
      },
    ).catch((err: { code: number; stderr: string }) => err);
    expect("code" in failure && failure.code).toBe(1);
    expect((failure as { stderr: string }).stderr).toMatch(
      /config: clients\[0\]\.keys\[0\] must decode to at least 32 bytes/,
    );
  });
});

describe("output to a reader that stops early", () => {
  it("ends quietly with 141, as SIGPIPE ends Unix tools (`facevault --help | head -1`)", async () => {
    const proc = spawn(process.execPath, ["--import", "tsx", main, "--help"], {
      env,
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    proc.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // Close our end before anything is written, as a `head` that has already exited has.
    proc.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => proc.once("exit", resolve));
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(141);
  });
});
