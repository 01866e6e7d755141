/**
 * One thread's share of a search scan: the SIMD kernel over a range of rows, and the bound
 * filter on the (row, dot) pairs it hands back. The thread that owns a partition's rows and the
 * scan threads (scan-worker.ts) run this same function on the same shared memory.
 */
import { boundError, estimatedGain, type ProbeCode } from "./vector-quantizer.js";

/** Bytes of metadata per row: scale, half, codeNorm, residual (float32) and tag-set id (int32). */
export const META_BYTES = 20;
/** (row, dot) pairs the kernel writes before handing back to JS to raise the floor. */
export const OUT_PAIRS = 2048;

/** What the assembled scan-kernel.wat exports. */
export interface ScanKernel {
  written: WebAssembly.Global;
  scan(
    codes: number,
    meta: number,
    rows: number,
    dim: number,
    probe: number,
    mask: number,
    t: number,
    phi: number,
    qn: number,
    floor: number,
    out: number,
    outEnd: number,
    rowBase: number,
  ): number;
}

/** Instantiates the kernel on a partition's shared memory. */
export function instantiateScanKernel(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
): ScanKernel {
  return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as ScanKernel;
}

/** Where a partition's rows lie in its memory. Plain numbers, so it crosses to a scan thread. */
export interface RowLayout {
  /** Padded dimension: bytes of codes per row. */
  dim: number;
  blockRows: number;
  /** Per block, the byte offsets of its codes and of its metadata, interleaved. */
  blocks: Int32Array;
  /** Byte offset of the probe's int16 codes. */
  probeAt: number;
  /** Byte offset of the tag-set mask, 0 for none. */
  maskAt: number;
}

/** Byte offsets of row `row`'s codes and metadata in the memory (see {@link RowLayout}). */
export function rowPlace(
  blocks: Int32Array,
  blockRows: number,
  dim: number,
  row: number,
): { codes: number; meta: number } {
  const b = Math.floor(row / blockRows);
  const i = row - b * blockRows;
  return {
    codes: (blocks[2 * b] as number) + i * dim,
    meta: (blocks[2 * b + 1] as number) + i * META_BYTES,
  };
}

/** A row the scan could not rule out: its gain lies in [lo, hi]. */
export interface ScanCandidate {
  row: number;
  lo: number;
  hi: number;
}

/** The probe's bound numbers (its codes are already in memory at `probeAt`). */
export type ProbeBound = Pick<ProbeCode, "t" | "phi" | "qn">;

/**
 * Scans rows [from, to): every row whose gain may be among the best `limit` of the range and at
 * least `minGain`, a superset of the range's exact answer. `outAt` is this thread's own scratch
 * for OUT_PAIRS pairs.
 */
export function scanRange(
  kernel: ScanKernel,
  memory: WebAssembly.Memory,
  layout: RowLayout,
  probe: ProbeBound,
  minGain: number,
  limit: number,
  from: number,
  to: number,
  outAt: number,
): ScanCandidate[] {
  const { dim, blockRows, blocks } = layout;
  const outEnd = outAt + OUT_PAIRS * 8;
  const best = new MinHeap(limit); // the `limit` highest lower bounds seen
  let floor = minGain;
  let candidates: ScanCandidate[] = [];
  let row = from;
  while (row < to) {
    const at = rowPlace(blocks, blockRows, dim, row);
    const rows = Math.min(blockRows - (row % blockRows), to - row);
    row += kernel.scan(
      at.codes,
      at.meta,
      rows,
      dim,
      layout.probeAt,
      layout.maskAt,
      probe.t,
      probe.phi,
      probe.qn,
      floor,
      outAt,
      outEnd,
      row,
    );
    const written = kernel.written.value as number;
    const buffer = memory.buffer;
    const pairs = new Int32Array(buffer, outAt, (written - outAt) / 4);
    const meta = new Float32Array(buffer);
    for (let i = 0; i < pairs.length; i += 2) {
      const r = pairs[i] as number;
      const m = rowPlace(blocks, blockRows, dim, r).meta >> 2;
      const half = meta[m + 1] as number;
      const est = estimatedGain(meta[m] as number, half, pairs[i + 1] as number, probe);
      const err = boundError(meta[m + 2] as number, meta[m + 3] as number, half, probe);
      const hi = est + err;
      if (hi < floor) continue;
      const lo = est - err;
      candidates.push({ row: r, lo, hi });
      if (best.offer(lo) && best.full) floor = Math.max(floor, best.min);
    }
    if (candidates.length > 4 * limit + OUT_PAIRS) {
      candidates = candidates.filter((c) => c.hi >= floor);
    }
  }
  return candidates.filter((c) => c.hi >= floor);
}

/**
 * The union of the candidates of several ranges, cut to those that may still be among the best
 * `limit` overall: the floor is the `limit`-th highest lower bound of the union.
 */
export function mergeCandidates(
  parts: readonly ScanCandidate[][],
  minGain: number,
  limit: number,
): ScanCandidate[] {
  const all = parts.flat();
  const best = new MinHeap(limit);
  for (const c of all) best.offer(c.lo);
  const floor = best.full ? Math.max(minGain, best.min) : minGain;
  return all.filter((c) => c.hi >= floor);
}

/** A bounded min-heap of numbers: keeps the `capacity` largest offered. */
class MinHeap {
  private readonly values: Float64Array;
  private count = 0;

  constructor(private readonly capacity: number) {
    this.values = new Float64Array(capacity);
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  get min(): number {
    return this.values[0] as number;
  }

  /** Adds `value` if it is among the largest `capacity`; true when it was kept. */
  offer(value: number): boolean {
    const v = this.values;
    if (this.count < this.capacity) {
      let i = this.count++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if ((v[parent] as number) <= value) break;
        v[i] = v[parent] as number;
        i = parent;
      }
      v[i] = value;
      return true;
    }
    if (value <= (v[0] as number)) return false;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.count) break;
      const r = l + 1;
      const c = r < this.count && (v[r] as number) < (v[l] as number) ? r : l;
      if ((v[c] as number) >= value) break;
      v[i] = v[c] as number;
      i = c;
    }
    v[i] = value;
    return true;
  }
}
