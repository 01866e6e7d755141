/** Seeded random vectors and the brute-force float64 reference the exact-search tests compare to. */
import { cosineDistance, euclideanDistance } from "../../src/face/encoders.js";
import type { SearchMatch, VectorMetric } from "../../src/templates/search-index.js";

export function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Unit-length Gaussian vectors (the spread of face descriptors: distances near 0.6 to 1.4). */
export function gaussianVectors(count: number, dimension: number, seed: number): Float32Array[] {
  const random = mulberry32(seed);
  let spare: number | undefined;
  const gaussian = () => {
    if (spare !== undefined) {
      const g = spare;
      spare = undefined;
      return g;
    }
    const r = Math.sqrt(-2 * Math.log(random() || 1e-12));
    const a = 2 * Math.PI * random();
    spare = r * Math.sin(a);
    return r * Math.cos(a);
  };
  return Array.from({ length: count }, () => {
    const v = Float32Array.from({ length: dimension }, gaussian);
    let sum = 0;
    for (const x of v) sum += x * x;
    const n = Math.sqrt(sum);
    return v.map((x) => x / n);
  });
}

/** Best first, ties by class id; class id i + 1 for vectors[i]. */
export function byDistance(a: SearchMatch, b: SearchMatch): number {
  return a.distance !== b.distance ? a.distance - b.distance : a.classId < b.classId ? -1 : 1;
}

/** Every vector's distance to the probe in float64 (the encoders' functions). */
export function allDistances(
  vectors: readonly Float32Array[],
  probe: Float32Array,
  metric: VectorMetric,
): Float64Array {
  const measure = metric === "cosine" ? cosineDistance : euclideanDistance;
  return Float64Array.from(vectors, (v) => measure(v, probe));
}

/** The reference answer from {@link allDistances}: class id i + 1 for vectors[i], sorted. */
export function bruteForce(
  distances: Float64Array,
  options: { keep?: (i: number) => boolean; maxDistance?: number; limit?: number } = {},
): SearchMatch[] {
  const maxDistance = options.maxDistance ?? Number.POSITIVE_INFINITY;
  const all: SearchMatch[] = [];
  distances.forEach((distance, i) => {
    if (options.keep && !options.keep(i)) return;
    if (distance <= maxDistance) all.push({ classId: BigInt(i + 1), distance });
  });
  return all.sort(byDistance).slice(0, options.limit ?? 10);
}

/** Random probes, probes next to stored vectors (near ties at the top) and stored vectors. */
export function probesFor(vectors: readonly Float32Array[], seed: number): Float32Array[] {
  const random = mulberry32(seed);
  const dimension = vectors[0]?.length ?? 0;
  const pick = () => vectors[Math.floor(random() * vectors.length)] as Float32Array;
  const fresh = gaussianVectors(4, dimension, seed + 1);
  const near = Array.from({ length: 4 }, () => pick().map((x) => x + (random() - 0.5) * 0.02));
  return [...fresh, ...near, pick(), pick()];
}
