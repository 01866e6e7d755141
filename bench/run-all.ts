/**
 * `npm run bench`: every benchmark in turn (each in a process of its own, its detailed output
 * shown as it runs), then one table of the figures the README keeps: Search at 10k/100k/1M for
 * each encoder's dimension, load time and memory, the face pipeline as a ratio to its bare
 * model calls at 640x480 and 1920x1080, Enroll over gRPC and REST as ratios to the bare
 * pipeline, and what each protocol costs. Ratios are measured within one benchmark's run.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const benches: { name: string; args: string[] }[] = [
  { name: "search", args: ["--expose-gc", "search-bench.ts"] },
  { name: "face", args: ["face-bench.ts"] },
  { name: "enroll", args: ["enroll-bench.ts"] },
  { name: "enroll-cli", args: ["enroll-cli-bench.ts"] },
  { name: "transport", args: ["transport-bench.ts"] },
  { name: "replicas", args: ["replicas-bench.ts"] },
];

const dir = mkdtempSync(join(tmpdir(), "facevault-bench-"));
const summary = join(dir, "summary.jsonl");
const here = fileURLToPath(new URL(".", import.meta.url));
const tsx = fileURLToPath(new URL("../node_modules/.bin/tsx", import.meta.url));
try {
  for (const bench of benches) {
    console.log(`\n=== ${bench.name}`);
    execFileSync(
      tsx,
      bench.args.map((a) => (a.endsWith(".ts") ? join(here, a) : a)),
      {
        stdio: "inherit",
        env: { ...process.env, BENCH_SUMMARY: summary },
      },
    );
  }
  const rows = readFileSync(summary, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { bench: string; what: string; result: string });
  console.log(`\n=== summary (${new Date().toISOString()}, node ${process.version})`);
  console.log("| benchmark | what | result |\n|---|---|---|");
  for (const r of rows) console.log(`| ${r.bench} | ${r.what} | ${r.result} |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
