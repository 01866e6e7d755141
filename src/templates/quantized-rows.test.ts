import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  allDistances,
  bruteForce,
  byDistance,
  gaussianVectors,
  mulberry32,
  probesFor,
} from "../../test/support/search-reference.js";
import { cosineDistance, euclideanDistance } from "../face/encoders.js";
import { compileScanKernel, createQuantizedRows } from "./quantized-rows.js";
import { createScanThreads, type ScanThreads } from "./scan-threads.js";
import type { SearchMatch, VectorMetric } from "./search-index.js";
import { minimumGain, quantizeProbe, quantizeRow, sameRowCode } from "./vector-quantizer.js";

const kernel = compileScanKernel();
let scanThreads: ScanThreads;

beforeAll(async () => {
  scanThreads = createScanThreads({ threads: 2, logger: pino({ level: "silent" }) });
  await scanThreads.ready();
});
afterAll(() => scanThreads.close());

/** Rows of `vectors` (class id i + 1, tag set 1 for odd class ids, else 0). */
function rowsOf(
  vectors: readonly Float32Array[],
  metric: VectorMetric,
  blockRows?: number,
  threads?: ScanThreads,
) {
  const dimension = vectors[0]?.length ?? 0;
  const rows = createQuantizedRows(kernel, {
    dimension,
    metric,
    ...(blockRows ? { blockRows } : {}),
    ...(threads ? { scanThreads: threads } : {}),
  });
  vectors.forEach((v, i) => {
    rows.append(quantizeRow(v, metric), (i + 1) % 2);
  });
  return rows;
}

/** What the index does after the scan: exact float64 distances of the candidates, best first. */
function scanThenRank(
  rows: ReturnType<typeof createQuantizedRows>,
  vectors: readonly Float32Array[],
  probe: Float32Array,
  metric: VectorMetric,
  options: { oddOnly?: boolean; maxDistance?: number; limit?: number } = {},
): { matches: SearchMatch[]; candidates: number } {
  const maxDistance = options.maxDistance ?? Number.POSITIVE_INFINITY;
  const limit = options.limit ?? 10;
  const candidates = rows.scan(quantizeProbe(probe, metric), {
    ...(options.oddOnly ? { allowedTagSets: Uint8Array.from([0, 1]) } : {}),
    minGain: minimumGain(maxDistance, probe, metric),
    limit,
  });
  const measure = metric === "cosine" ? cosineDistance : euclideanDistance;
  const matches = candidates
    .map((c) => ({
      classId: BigInt(c.row + 1),
      distance: measure(vectors[c.row] as Float32Array, probe),
    }))
    .filter((m) => m.distance <= maxDistance)
    .sort(byDistance)
    .slice(0, limit);
  return { matches, candidates: candidates.length };
}

/**
 * Scans on this thread alone and shared with the scan threads (blocks of 8,192 rows, shares
 * that start and end inside blocks) both equal the brute-force answer.
 */
function expectExactOn(vectors: readonly Float32Array[], metric: VectorMetric, seed: number) {
  const alone = rowsOf(vectors, metric);
  const shared = rowsOf(vectors, metric, undefined, scanThreads);
  const sharesBefore = scanThreads.stats().shares;
  const odd = (i: number) => (i + 1) % 2 === 1;
  let candidates = 0;
  let scans = 0;
  for (const probe of probesFor(vectors, seed)) {
    const distances = allDistances(vectors, probe, metric);
    for (const rows of [alone, shared]) {
      const top = scanThenRank(rows, vectors, probe, metric);
      expect(top.matches).toEqual(bruteForce(distances));
      const tagged = scanThenRank(rows, vectors, probe, metric, { oddOnly: true });
      expect(tagged.matches).toEqual(bruteForce(distances, { keep: odd }));
      // A distance limit that falls inside the top 10.
      const maxDistance = top.matches[4]?.distance as number;
      const within = scanThenRank(rows, vectors, probe, metric, { maxDistance });
      expect(within.matches).toEqual(bruteForce(distances, { maxDistance }));
      expect(within.matches.length).toBe(5);
      candidates += top.candidates + tagged.candidates;
      scans += 2;
    }
  }
  // The bound is tight enough that only a few rows go to the exact step.
  expect(candidates / scans).toBeLessThan(200);
  // The threads took their shares (two per scan: 100,000 rows are three shares).
  expect(scanThreads.stats().shares - sharesBefore).toBeGreaterThanOrEqual(scans);
  expect(scanThreads.stats().fallbacks).toBe(0);
}

describe("quantized rows", () => {
  it("scan plus exact re-rank equals a brute-force float64 scan: 100,000 random 128-D (Euclidean)", () => {
    expectExactOn(gaussianVectors(100_000, 128, 1), "euclidean", 11);
  }, 180_000);

  it("scan plus exact re-rank equals a brute-force float64 scan: 100,000 random 512-D (cosine)", () => {
    expectExactOn(gaussianVectors(100_000, 512, 2), "cosine", 12);
  }, 180_000);

  it("handles vectors of any length and scale, zero vectors and small blocks", () => {
    const random = mulberry32(5);
    for (const [dimension, metric] of [
      [3, "euclidean"],
      [100, "cosine"],
      [1024, "cosine"],
    ] as const) {
      const vectors = Array.from({ length: 300 }, (_, i) =>
        i === 7
          ? new Float32Array(dimension)
          : Float32Array.from({ length: dimension }, () => (random() - 0.5) * 1000),
      );
      const rows = rowsOf(vectors, metric, 16);
      for (const probe of [vectors[3] as Float32Array, ...gaussianVectors(3, dimension, 9)]) {
        expect(scanThenRank(rows, vectors, probe, metric).matches).toEqual(
          bruteForce(allDistances(vectors, probe, metric)),
        );
      }
    }
  });

  it("keeps rows dense: replace, remove by moving the last row, codes read back unchanged", () => {
    const vectors = gaussianVectors(40, 128, 3);
    const rows = rowsOf(vectors, "euclidean", 16);
    const code = quantizeRow(vectors[39] as Float32Array, "euclidean");
    expect(sameRowCode(rows.codeOf(39), code)).toBe(true);
    rows.removeSwap(5);
    expect(rows.size).toBe(39);
    expect(sameRowCode(rows.codeOf(5), code)).toBe(true);
    rows.set(0, code, 0);
    expect(sameRowCode(rows.codeOf(0), code)).toBe(true);
    expect(() => rows.codeOf(39)).toThrow(/out of range/);
    const probe = vectors[39] as Float32Array;
    const found = rows.scan(quantizeProbe(probe, "euclidean"), {
      minGain: minimumGain(1e-6, probe, "euclidean"),
      limit: 10,
    });
    expect(found.map((c) => c.row).sort()).toEqual([0, 5]);
  });
});
