/** Helpers shared by the benchmarks: timing, fixture photos at a given size, a running server. */
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { type App, createApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";

export const fixtureDir = fileURLToPath(new URL("../test/fixtures/faces/", import.meta.url));

/** Single-face fixture photos, one per person, cropped and scaled to exactly width x height JPEG. */
export async function photosAt(width: number, height: number, count = 12): Promise<Buffer[]> {
  const rows = readFileSync(join(fixtureDir, "labels.tsv"), "utf8").trim().split("\n").slice(1);
  const seen = new Set<string>();
  const files: string[] = [];
  for (const row of rows) {
    const [file, identity, faces] = row.split("\t");
    if (!file || !identity || faces !== "1" || seen.has(identity)) continue;
    seen.add(identity);
    files.push(file);
  }
  return Promise.all(
    files
      .slice(0, count)
      .map((f) =>
        sharp(join(fixtureDir, f))
          .resize(width, height, { fit: "cover" })
          .jpeg({ quality: 90 })
          .toBuffer(),
      ),
  );
}

/**
 * Fixture portraits (paths under test/fixtures/faces) as JPEGs of exactly `width` x `height`
 * (quality 90): each scaled to fit and centred on a grey background, as a person in a landscape
 * photo.
 */
export async function portraitsAt(
  files: readonly string[],
  width: number,
  height: number,
): Promise<Uint8Array[]> {
  return Promise.all(
    files.map(async (file) => {
      const jpeg = await sharp(join(fixtureDir, file))
        .resize({ width, height, fit: "contain", background: "#7f8c8d" })
        .jpeg({ quality: 90 })
        .toBuffer();
      return new Uint8Array(jpeg);
    }),
  );
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Runs `task(i)` for i in [0, total) with `concurrency` in flight; returns items per second. */
export async function throughput(
  total: number,
  concurrency: number,
  task: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await task(next++);
    }),
  );
  return total / ((performance.now() - start) / 1000);
}

export interface BenchServer {
  app: App;
  address: string;
  baseUrl: string;
  clientId: string;
  key: string;
  close(): Promise<void>;
}

/**
 * A real facevault built by the composition root from a config file (SQLite in a temp dir), with
 * one client, warmed up. `face` is merged into the config's face settings (e.g. an encoder).
 */
export async function startBenchServer(
  workers = availableParallelism(),
  face: Record<string, unknown> = {},
): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), "facevault-bench-"));
  const key = randomBytes(64).toString("base64");
  const configPath = join(dir, "config.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      port: 0,
      host: "127.0.0.1",
      dataDir: dir,
      masterKey: randomBytes(32).toString("base64"),
      logLevel: "silent",
      face: { workers, maxQueue: 1000, ...face },
      clients: [{ clientId: "bench", keys: [key], storage: "bench", partition: 1 }],
    }),
  );
  const app = await createApp(loadConfig({ configPath, env: {} }), {
    logger: createLogger({ level: "silent" }),
  });
  const { port } = await app.start();
  return {
    app,
    address: `127.0.0.1:${port}`,
    baseUrl: `http://127.0.0.1:${port}`,
    clientId: "bench",
    key,
    async close() {
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** One line of the `npm run bench` summary table. */
export interface SummaryRow {
  what: string;
  result: string;
}

/**
 * Adds rows to the summary `npm run bench` prints at the end (bench/run-all.ts), when this
 * benchmark runs under it (BENCH_SUMMARY names the file); a no-op when run on its own.
 */
export function reportSummary(bench: string, rows: readonly SummaryRow[]): void {
  const file = process.env.BENCH_SUMMARY;
  if (!file) return;
  appendFileSync(file, rows.map((r) => `${JSON.stringify({ bench, ...r })}\n`).join(""));
}
