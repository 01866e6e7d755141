/** Planar (homography) fits of point motion, shared by the mesh and the pixel parallax. */

/**
 * RMS reprojection error in pixels of the homography that best maps the points `from` onto
 * `to` (x0, y0, x1, y1, ...): least squares on Hartley-normalised coordinates, refitted once
 * on the 90% best-fitting points so a few misplaced mesh points do not count as parallax.
 * Written here rather than taken from a library: an 8x8 linear solve needs no OpenCV (no npm
 * package offers it without a native or multi-megabyte wasm build), and a deterministic trimmed
 * fit gives the same score for the same images, which RANSAC's random draws would not.
 */
export function planarResidual(from: Float32Array, to: Float32Array): number {
  return planarFit(from, to)?.rms ?? 0;
}

/**
 * The trimmed homography fit behind {@link planarResidual}: the homography (row-major, h33 = 1)
 * and the RMS error in pixels over the kept points; undefined for fewer than 8 points or a
 * degenerate set.
 */
export function planarFit(
  from: Float32Array,
  to: Float32Array,
): { h: number[]; rms: number } | undefined {
  const n = Math.min(from.length, to.length) / 2;
  if (n < 8) return undefined;
  const all = Array.from({ length: n }, (_, i) => i);
  let h = fitHomography(from, to, all);
  if (!h) return undefined;
  const errors = all.map((i) => reprojectionError(h as number[], from, to, i));
  const kept = all
    .slice()
    .sort((i, j) => (errors[i] as number) - (errors[j] as number))
    .slice(0, Math.ceil(0.9 * n));
  h = fitHomography(from, to, kept) ?? h;
  let sum = 0;
  for (const i of kept) sum += reprojectionError(h, from, to, i) ** 2;
  return { h, rms: Math.sqrt(sum / kept.length) };
}

/** Where the homography `h` (row-major, h33 = 1) takes the point (x, y). */
export function applyHomography(h: readonly number[], x: number, y: number): [number, number] {
  const w = (h[6] as number) * x + (h[7] as number) * y + 1;
  return [
    ((h[0] as number) * x + (h[1] as number) * y + (h[2] as number)) / w,
    ((h[3] as number) * x + (h[4] as number) * y + (h[5] as number)) / w,
  ];
}

function reprojectionError(h: number[], from: Float32Array, to: Float32Array, i: number): number {
  const [u, v] = applyHomography(h, from[2 * i] as number, from[2 * i + 1] as number);
  return Math.hypot(u - (to[2 * i] as number), v - (to[2 * i + 1] as number));
}

/** Centre and scale that give points mean 0 and mean distance sqrt(2) (Hartley). */
function normaliser(p: Float32Array, idx: readonly number[]): [number, number, number] {
  let cx = 0;
  let cy = 0;
  for (const i of idx) {
    cx += p[2 * i] as number;
    cy += p[2 * i + 1] as number;
  }
  cx /= idx.length;
  cy /= idx.length;
  let d = 0;
  for (const i of idx) d += Math.hypot((p[2 * i] as number) - cx, (p[2 * i + 1] as number) - cy);
  d /= idx.length;
  return [cx, cy, d > 0 ? Math.SQRT2 / d : 1];
}

/**
 * Homography (row-major, h33 = 1) mapping `from` onto `to` (x0, y0, x1, y1, ...) for the points
 * `idx` (default all), least squares, in pixels; undefined when the points are degenerate.
 */
export function fitHomography(
  from: Float32Array,
  to: Float32Array,
  idx: readonly number[] = Array.from({ length: from.length / 2 }, (_, i) => i),
): number[] | undefined {
  const [ax, ay, as] = normaliser(from, idx);
  const [bx, by, bs] = normaliser(to, idx);
  // Normal equations of the 8 unknowns (h33 = 1) of the normalised problem.
  const ata = Array.from({ length: 8 }, () => new Float64Array(8));
  const atb = new Float64Array(8);
  const addRow = (row: number[], rhs: number): void => {
    for (let r = 0; r < 8; r++) {
      const rr = row[r] as number;
      if (rr === 0) continue;
      atb[r] = (atb[r] as number) + rr * rhs;
      const line = ata[r] as Float64Array;
      for (let c = 0; c < 8; c++) line[c] = (line[c] as number) + rr * (row[c] as number);
    }
  };
  for (const i of idx) {
    const x = ((from[2 * i] as number) - ax) * as;
    const y = ((from[2 * i + 1] as number) - ay) * as;
    const u = ((to[2 * i] as number) - bx) * bs;
    const v = ((to[2 * i + 1] as number) - by) * bs;
    addRow([x, y, 1, 0, 0, 0, -u * x, -u * y], u);
    addRow([0, 0, 0, x, y, 1, -v * x, -v * y], v);
  }
  const solved = solve(ata, atb);
  if (!solved) return undefined;
  // Undo the normalisations: H = Tb^-1 * Hn * Ta.
  const hn = [...solved, 1];
  const ta = [as, 0, -as * ax, 0, as, -as * ay, 0, 0, 1];
  const tbInv = [1 / bs, 0, bx, 0, 1 / bs, by, 0, 0, 1];
  const h = multiply(tbInv, multiply(hn, ta));
  const h33 = h[8] as number;
  if (Math.abs(h33) < 1e-12) return undefined;
  return h.slice(0, 8).map((v) => v / h33);
}

function multiply(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(9).fill(0);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += (a[3 * r + k] as number) * (b[3 * k + c] as number);
      out[3 * r + c] = s;
    }
  }
  return out;
}

/** Gaussian elimination with partial pivoting; undefined when singular. */
function solve(a: Float64Array[], b: Float64Array): number[] | undefined {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i] as number]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) {
      if (Math.abs(m[r]?.[c] as number) > Math.abs(m[pivot]?.[c] as number)) pivot = r;
    }
    if (Math.abs(m[pivot]?.[c] as number) < 1e-12) return undefined;
    [m[c], m[pivot]] = [m[pivot] as number[], m[c] as number[]];
    const top = m[c] as number[];
    for (let r = c + 1; r < n; r++) {
      const row = m[r] as number[];
      const f = (row[c] as number) / (top[c] as number);
      for (let k = c; k <= n; k++) row[k] = (row[k] as number) - f * (top[k] as number);
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    const row = m[r] as number[];
    let s = row[n] as number;
    for (let k = r + 1; k < n; k++) s -= (row[k] as number) * (x[k] as number);
    x[r] = s / (row[r] as number);
  }
  return x;
}
