/**
 * `npm run bench:enroll-cli`: images/s of `facevault enroll <folder>` (a child process, as an
 * operator runs it) as a ratio to bench:enroll's gRPC path (Enroll calls from this process,
 * one 640x480 image per call and class) on the same photos, the same server and the same
 * number of calls in flight, interleaved in one run. The CLI's rate is its own (first call to
 * last answer, journal and report included); the wall-clock rate with process start is shown
 * beside it.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createGrpcJsClient, createTokenSource } from "@facevault/client";
import { median, photosAt, reportSummary, startBenchServer, throughput } from "./bench-support.js";

const run = promisify(execFile);
const imagesPerRun = Number(process.env.BENCH_IMAGES ?? 80);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const root = fileURLToPath(new URL("..", import.meta.url));
const main = join(root, "src", "main.ts");

const workers = availableParallelism();
const concurrency = workers * 2; // as bench:enroll
const photos = await photosAt(640, 480);
const server = await startBenchServer(workers);
const token = createTokenSource({ clientId: server.clientId, key: server.key, minutes: 30 });
const grpc = createGrpcJsClient({ address: server.address, token });
const dir = mkdtempSync(join(tmpdir(), "facevault-enroll-cli-bench-"));
writeFileSync(join(dir, "bench.key"), server.key);

let nextClass = 1;
/** A folder of `imagesPerRun` classes with one photo each, fresh class ids. */
function makeFolder(name: string): string {
  const folder = join(dir, name);
  for (let i = 0; i < imagesPerRun; i++) {
    const classDir = join(folder, String(nextClass++));
    mkdirSync(classDir, { recursive: true });
    writeFileSync(join(classDir, "1.jpg"), photos[i % photos.length] as Buffer);
  }
  return folder;
}

async function cliRun(name: string): Promise<{ rate: number; wall: number }> {
  const folder = makeFolder(name);
  const started = performance.now();
  const { stdout } = await run(
    process.execPath,
    [
      "--import",
      "tsx",
      main,
      "enroll",
      folder,
      ...["--url", server.baseUrl, "--client", server.clientId],
      ...["--key-file", join(dir, "bench.key"), "--concurrency", String(concurrency)],
      ...["--journal", `${folder}.journal`, "--report", `${folder}.jsonl`, "--json"],
    ],
    { cwd: root, maxBuffer: 1 << 24 },
  );
  const wall = imagesPerRun / ((performance.now() - started) / 1000);
  const summary = JSON.parse(stdout.trim().split("\n").pop() as string) as {
    ok: boolean;
    seconds: number;
    created: number;
  };
  if (!summary.ok || summary.created !== imagesPerRun) {
    throw new Error(`the CLI did not enroll every image: ${stdout}`);
  }
  return { rate: imagesPerRun / summary.seconds, wall };
}

const grpcRun = () => {
  let classId = BigInt(1_000_000 + nextClass);
  nextClass += imagesPerRun;
  return throughput(imagesPerRun, concurrency, (i) =>
    grpc.enroll({ classId: classId++, images: [{ image: photos[i % photos.length] as Buffer }] }),
  );
};

try {
  await grpcRun(); // warm-up
  await cliRun("warm-up");
  const grpcRates: number[] = [];
  const cliRates: number[] = [];
  const wallRates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    grpcRates.push(await grpcRun());
    const cli = await cliRun(`round-${r}`);
    cliRates.push(cli.rate);
    wallRates.push(cli.wall);
  }
  const show = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(", ");
  const base = median(grpcRates);
  const cli = median(cliRates);
  console.log(
    `Enroll CLI vs bench:enroll (gRPC), 640x480, 1 image per class, ${workers} workers, ${concurrency} in flight, ${imagesPerRun} images per run, ${rounds} interleaved rounds (medians)`,
  );
  console.log(`  gRPC Enroll calls        ${base.toFixed(1)} images/s   (runs ${show(grpcRates)})`);
  console.log(
    `  facevault enroll         ${cli.toFixed(1)} images/s   ratio ${(cli / base).toFixed(2)}   (runs ${show(cliRates)})`,
  );
  console.log(
    `  with process start       ${median(wallRates).toFixed(1)} images/s   ratio ${(median(wallRates) / base).toFixed(2)}   (runs ${show(wallRates)})`,
  );
  reportSummary("enroll-cli", [
    {
      what: `facevault enroll <folder>, 1 image 640x480 per class / gRPC Enroll calls`,
      result: `${(cli / base).toFixed(2)} (${cli.toFixed(1)} images/s)`,
    },
  ]);
} finally {
  grpc.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
