/**
 * Real `facevault serve` processes for tests that need more than one server or a process that
 * dies: `node --import tsx src/main.ts serve --config <file>`, port 0, the port read from the
 * `listening` log line. Every child is registered so that `stopAllChildServers` (afterEach /
 * afterAll) kills it whatever the test did; the test process's exit and, when that process is
 * killed outright, a watchdog inside the child are the last resorts. Its stdout and stderr are
 * kept so failure messages can show them (`withChildOutput`).
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const mainScript = join(repoRoot, "src", "main.ts");

/**
 * Loaded first in every child: it reads stdin, a pipe this test process holds open, and
 * SIGKILLs its own process when the pipe closes, i.e. when the test process is gone however it
 * died (a killed test runner runs no afterAll). Unref'd, so a graceful shutdown still exits.
 */
const parentWatchdog = `data:text/javascript,${encodeURIComponent(
  [
    'const die = () => process.kill(process.pid, "SIGKILL");',
    'process.stdin.on("end", die).on("close", die).on("error", die);',
    "process.stdin.resume();",
    "process.stdin.unref?.();",
  ].join(""),
)}`;

/** Environment variables loadConfig prefers over the config file: never passed to a child. */
const overridingEnv = [
  "PORT",
  "DATABASE_URL",
  "LOG_LEVEL",
  "FACEVAULT_CONFIG",
  "FACEVAULT_DATA_DIR",
  "FACEVAULT_DATABASE_SCHEMA",
];

export interface ChildClientConfig {
  clientId: string;
  /** base64, at least 32 bytes */
  key: string;
  storage: string;
  partition: number;
}

export interface ChildServerOptions {
  /** Label of the child in output and failure messages, e.g. "A" or "crash-1". */
  name: string;
  /** Config file and data dir go here (the caller creates and removes it). */
  dir: string;
  /** SQLite path or postgres:// URL. */
  database: string;
  databaseSchema?: string;
  /** base64 of 32 bytes; children sharing a database must share it. */
  masterKey: string;
  clients: readonly ChildClientConfig[];
  /** Face worker threads. Default 1 (each costs a few hundred MB). */
  workers?: number;
  /** Merged into the JSON config file last. */
  config?: Record<string, unknown>;
  /** Until the child is listening with warm models. Default 120 s (two cores, busy machine). */
  startTimeoutMs?: number;
  /** Extra environment of the child (e.g. OTEL_* variables). */
  env?: Record<string, string>;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildServer {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  /** 127.0.0.1:port, for grpc-js */
  readonly address: string;
  /** http://127.0.0.1:port */
  readonly baseUrl: string;
  /** Resolves when the process has exited (for whatever reason). */
  readonly exited: Promise<ChildExit>;
  /** True until the process has exited. */
  readonly running: boolean;
  /** True once this helper has sent the process a signal (killNow, kill, stop, stopAll). */
  readonly signalled: boolean;
  /** Captured stdout and stderr, each line prefixed with the stream; the last `maxChars`. */
  output(maxChars?: number): string;
  /** The JSON log lines of stdout, parsed. */
  logs(): Record<string, unknown>[];
  /** Sends SIGKILL synchronously (no-op once exited). */
  killNow(): void;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<ChildExit>;
  /** SIGTERM (graceful shutdown), SIGKILL after `timeoutMs` (default 15 s); waits for the exit. */
  stop(timeoutMs?: number): Promise<ChildExit>;
}

interface Registered {
  name: string;
  output: (maxChars?: number) => string;
  isRunning: () => boolean;
  /** Sends the signal if the process still runs. */
  signal: (name: NodeJS.Signals) => void;
  exited: Promise<ChildExit>;
}

/** Every child started by this test process, in start order (the dead ones too, for output). */
const registry: Registered[] = [];
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when a test run is torn down without its hooks: no orphaned servers.
  process.once("exit", () => {
    for (const child of registry) child.signal("SIGKILL");
  });
}

/** Starts `facevault serve` in a child process and resolves once it is listening and ready. */
export async function startChildServer(options: ChildServerOptions): Promise<ChildServer> {
  installExitHook();
  const configPath = join(options.dir, `config-${options.name}.json`);
  const config = {
    port: 0,
    host: "127.0.0.1",
    dataDir: options.dir,
    database: options.database,
    ...(options.databaseSchema === undefined ? {} : { databaseSchema: options.databaseSchema }),
    masterKey: options.masterKey,
    logLevel: "info",
    face: { workers: options.workers ?? 1 },
    clients: options.clients.map((c) => ({
      clientId: c.clientId,
      keys: [c.key],
      storage: c.storage,
      partition: c.partition,
    })),
    ...options.config,
  };
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of overridingEnv) delete env[name];
  Object.assign(env, options.env);
  const child = spawn(
    process.execPath,
    ["--import", parentWatchdog, "--import", "tsx", mainScript, "serve", "--config", configPath],
    { cwd: repoRoot, env, stdio: ["pipe", "pipe", "pipe"] },
  );
  // Never written to: its end is the watchdog's signal. EPIPE once the child is gone is fine.
  child.stdin?.on("error", () => undefined);

  const lines: string[] = [];
  const parsed: Record<string, unknown>[] = [];
  let running = true;
  let signalled = false;
  let onListening: ((port: number) => void) | undefined;
  const started = Date.now();
  const stamp = () => `+${((Date.now() - started) / 1000).toFixed(2)}s`;

  const collect = (stream: "out" | "err", source: NodeJS.ReadableStream | null) => {
    let partial = "";
    source?.setEncoding("utf8");
    source?.on("data", (chunk: string) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(`[${options.name} ${stream} ${stamp()}] ${line}`);
        if (stream !== "out") continue;
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          parsed.push(entry);
          if (entry.msg === "listening" && typeof entry.port === "number")
            onListening?.(entry.port);
        } catch {
          // not a log line (banner, stray output): kept in `lines` only
        }
      }
    });
    source?.on("end", () => {
      if (partial) lines.push(`[${options.name} ${stream} ${stamp()}] ${partial}`);
      partial = "";
    });
  };
  collect("out", child.stdout);
  collect("err", child.stderr);

  const exited = new Promise<ChildExit>((resolve) => {
    child.once("exit", (code, signal) => {
      running = false;
      lines.push(`[${options.name} ${stamp()}] exited: code ${code}, signal ${signal}`);
      resolve({ code, signal });
    });
    child.once("error", (err) => {
      running = false;
      lines.push(`[${options.name} ${stamp()}] spawn error: ${err.message}`);
      resolve({ code: null, signal: null });
    });
  });
  const output = (maxChars = 12_000) => {
    const text = lines.join("\n");
    return text.length <= maxChars ? text : `…${text.slice(text.length - maxChars)}`;
  };
  const signal = (name: NodeJS.Signals) => {
    signalled = true;
    child.kill(name);
  };
  registry.push({
    name: options.name,
    output,
    isRunning: () => running,
    signal: (name) => {
      if (running) signal(name);
    },
    exited,
  });

  const killNow = () => {
    if (!running) return;
    signalled = true;
    child.kill("SIGKILL");
  };
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`did not log "listening" within ${timeoutMs} ms`)),
        timeoutMs,
      );
      onListening = (p) => {
        clearTimeout(timer);
        resolve(p);
      };
      exited.then((exit) => {
        clearTimeout(timer);
        reject(new Error(`exited before listening (code ${exit.code}, signal ${exit.signal})`));
      });
    });
    await waitReady(`http://127.0.0.1:${port}`, started + timeoutMs, exited);
  } catch (err) {
    killNow();
    await exited;
    throw new Error(
      `child server ${options.name} failed to start: ${(err as Error).message}\n${output()}`,
    );
  }

  return {
    name: options.name,
    pid: child.pid as number,
    port,
    address: `127.0.0.1:${port}`,
    baseUrl: `http://127.0.0.1:${port}`,
    exited,
    get running() {
      return running;
    },
    get signalled() {
      return signalled;
    },
    output,
    logs: () => [...parsed],
    killNow,
    async kill() {
      killNow();
      return exited;
    },
    async stop(stopTimeoutMs = 15_000) {
      if (!running) return exited;
      signal("SIGTERM");
      const timer = setTimeout(killNow, stopTimeoutMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}

/** Polls GET /readyz until 200 (the `listening` line comes after warm-up; this confirms it). */
async function waitReady(baseUrl: string, deadline: number, exited: Promise<ChildExit>) {
  let dead = false;
  exited.then(() => {
    dead = true;
  });
  for (;;) {
    if (dead) throw new Error("exited while waiting for /readyz");
    try {
      const res = await fetch(`${baseUrl}/readyz`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not accepting connections yet
    }
    if (Date.now() > deadline) throw new Error("/readyz did not answer 200 in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Kills every child still running (SIGTERM, then SIGKILL after `graceMs`) and waits for their
 * exits. For afterEach/afterAll: safe to call when nothing runs.
 */
export async function stopAllChildServers(graceMs = 5_000): Promise<void> {
  const running = registry.filter((c) => c.isRunning());
  await Promise.all(
    running.map(async (c) => {
      c.signal("SIGTERM");
      const timer = setTimeout(() => c.signal("SIGKILL"), graceMs);
      await c.exited;
      clearTimeout(timer);
    }),
  );
}

/**
 * Runs a test body; when it throws, the error message gets the output of every child that was
 * running when the body started or was started by it, so a failure shows what the servers said.
 */
export async function withChildOutput<T>(body: () => Promise<T>): Promise<T> {
  const first = registry.length;
  const runningBefore = registry.filter((c) => c.isRunning());
  try {
    return await body();
  } catch (err) {
    const involved = [...runningBefore, ...registry.slice(first)];
    if (involved.length > 0 && err instanceof Error) {
      const outputs = involved
        .map((c) => `--- output of child server ${c.name} ---\n${c.output(6_000)}`)
        .join("\n");
      err.message = `${err.message}\n\n${outputs}`;
    }
    throw err;
  }
}
