import { FacevaultError } from "../errors.js";
import type { VectorMetric } from "../face/encoders.js";
import { scanKernelWasm } from "./kernel/scan-kernel-wasm.js";
import {
  instantiateScanKernel,
  META_BYTES,
  mergeCandidates,
  OUT_PAIRS,
  type RowLayout,
  rowPlace,
  type ScanCandidate,
  scanRange,
} from "./scan-range.js";
import type { ScanThreads } from "./scan-threads.js";
import {
  MAX_DIMENSION,
  type ProbeCode,
  paddedDimension,
  type RowCode,
} from "./vector-quantizer.js";

export type { ScanCandidate } from "./scan-range.js";

/** Rows of one block: blocks are allocated whole, so the rows never move when the set grows. */
const DEFAULT_BLOCK_ROWS = 8192;
const PAGE = 65536;
const MAX_PAGES = 65536;

export interface QuantizedRowsOptions {
  dimension: number;
  metric: VectorMetric;
  /** Rows per allocation block, a multiple of 16. Default 8192. */
  blockRows?: number;
  /** Threads that take shares of large scans; none: every scan runs on the calling thread. */
  scanThreads?: ScanThreads;
}

export interface ScanOptions {
  /** Rows whose tag-set id has a 0 here are skipped; undefined: every row counts. */
  allowedTagSets?: Uint8Array;
  /** Rows whose gain cannot reach this are not wanted (the distance limit), or -Infinity. */
  minGain: number;
  /** How many best rows the caller wants. */
  limit: number;
}

/**
 * The int8 codes and bound numbers of one partition's rows, in a shared WebAssembly memory
 * scanned by the SIMD kernel (kernel/scan-kernel.wat), on this thread and on the scan threads.
 * Rows are dense, 0 to size - 1; removing a row moves the last row into its place. Resident per row: the padded dimension in bytes plus 20.
 */
export interface QuantizedRows {
  readonly size: number;
  /** Bytes of WebAssembly memory committed (rows, blocks not yet full, scratch). */
  readonly memoryBytes: number;
  /** Adds a row at index `size`. @throws FacevaultError `resource_exhausted` past 4 GiB. */
  append(code: RowCode, tagSet: number): void;
  /** Replaces row `row`. */
  set(row: number, code: RowCode, tagSet: number): void;
  /** Moves the last row into `row` and drops the last. */
  removeSwap(row: number): void;
  /** A copy of the stored code of `row`. */
  codeOf(row: number): RowCode;
  /** The tag-set id stored with `row`. */
  tagSetOf(row: number): number;
  /**
   * Every row whose gain may be among the best `limit` and at least `minGain`, a superset of
   * the exact answer (see vector-quantizer.ts for the bound).
   */
  scan(probe: ProbeCode, options: ScanOptions): ScanCandidate[];
  /**
   * Copies of the given rows in the given order: codes (rows × paddedDimension) and metadata,
   * with `tagSetIds[i]` as the tag-set id of row i of the batch (a chunk's own numbering).
   */
  exportRows(rows: ArrayLike<number>, tagSetIds: ArrayLike<number>): RowBatch;
  /** Appends rows exported by {@link exportRows}, their tag-set ids mapped through `tagSetMap`. */
  appendRows(batch: RowBatch, tagSetMap: Int32Array): void;
}

/** Rows in the memory layout: codes, then per row 20 bytes of metadata (see META_BYTES). */
export interface RowBatch {
  rows: number;
  codes: Uint8Array;
  meta: Uint8Array;
}

/** Compiles the scan kernel; one module serves every partition's instance. */
export function compileScanKernel(): WebAssembly.Module {
  return new WebAssembly.Module(Buffer.from(scanKernelWasm, "base64"));
}

/** Creates an empty row set with its own WebAssembly memory; see {@link QuantizedRows}. */
export function createQuantizedRows(
  kernel: WebAssembly.Module,
  options: QuantizedRowsOptions,
): QuantizedRows {
  const blockRows = options.blockRows ?? DEFAULT_BLOCK_ROWS;
  if (!Number.isInteger(blockRows) || blockRows < 16 || blockRows % 16 !== 0) {
    throw new FacevaultError("invalid_argument", "blockRows must be a positive multiple of 16");
  }
  if (options.dimension < 1 || options.dimension > MAX_DIMENSION) {
    throw new FacevaultError("invalid_argument", `dimension must be 1 to ${MAX_DIMENSION}`);
  }
  const dim = paddedDimension(options.dimension);
  const threads = options.scanThreads;
  // Shared, so that the scan threads read the rows in place; the maximum is the 4 GiB limit.
  const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
  const k = instantiateScanKernel(kernel, memory);

  // Scratch at the start: probe codes, then each thread's (row, dot) pairs (this thread's
  // first); blocks and the tag mask after.
  const probeAt = 0;
  const outAts: number[] = [];
  let top = align(dim * 2, 16); // bump allocator: first free byte
  for (let i = 0; i <= (threads?.threads ?? 0); i++) {
    outAts.push(top);
    top = align(top + OUT_PAIRS * 8, 16);
  }
  if (top > memory.buffer.byteLength)
    memory.grow(Math.ceil((top - memory.buffer.byteLength) / PAGE));
  let maskAt = 0;
  let maskCapacity = 0;
  /** Per block, the byte offsets of its codes and of its metadata, interleaved. */
  let blockTable = new Int32Array(16);
  let blockCount = 0;
  let size = 0;

  function reserve(bytes: number): number {
    const at = top;
    const end = at + bytes;
    const have = memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      if (have / PAGE + pages > MAX_PAGES) {
        throw new FacevaultError(
          "resource_exhausted",
          "a partition's search index is limited to 4 GiB of codes",
        );
      }
      memory.grow(pages);
    }
    top = align(end, 16);
    return at;
  }

  function place(row: number): { codes: number; meta: number } {
    return rowPlace(blockTable, blockRows, dim, row);
  }

  function write(row: number, code: RowCode, tagSet: number): void {
    const at = place(row);
    const buffer = memory.buffer;
    new Int8Array(buffer, at.codes, dim).set(code.codes);
    const meta = new DataView(buffer, at.meta, META_BYTES);
    meta.setFloat32(0, code.scale, true);
    meta.setFloat32(4, code.half, true);
    meta.setFloat32(8, code.codeNorm, true);
    meta.setFloat32(12, code.residual, true);
    meta.setInt32(16, tagSet, true);
  }

  function codeOf(row: number): RowCode {
    const at = place(row);
    const buffer = memory.buffer;
    const meta = new DataView(buffer, at.meta, META_BYTES);
    return {
      codes: new Int8Array(buffer, at.codes, dim).slice(),
      scale: meta.getFloat32(0, true),
      half: meta.getFloat32(4, true),
      codeNorm: meta.getFloat32(8, true),
      residual: meta.getFloat32(12, true),
    };
  }

  function scan(probe: ProbeCode, options: ScanOptions): ScanCandidate[] {
    const { limit, minGain } = options;
    if (limit < 1 || size === 0) return [];
    let mask = 0;
    if (options.allowedTagSets) {
      if (options.allowedTagSets.length > maskCapacity) {
        maskCapacity = Math.max(options.allowedTagSets.length, maskCapacity * 2, 1024);
        maskAt = reserve(maskCapacity);
      }
      new Uint8Array(memory.buffer, maskAt, options.allowedTagSets.length).set(
        options.allowedTagSets,
      );
      mask = maskAt;
    }
    new Int16Array(memory.buffer, probeAt, dim).set(probe.codes);
    const layout: RowLayout = {
      dim,
      blockRows,
      blocks: blockTable.subarray(0, 2 * blockCount),
      probeAt,
      maskAt: mask,
    };
    const bound = { t: probe.t, phi: probe.phi, qn: probe.qn };
    const own = (from: number, to: number) =>
      scanRange(k, memory, layout, bound, minGain, limit, from, to, outAts[0] as number);
    if (!threads) return own(0, size);
    const parts = threads.scan(
      { memory, layout, probe: bound, minGain, limit, rows: size, outAt: outAts },
      own,
    );
    return parts.length === 1
      ? (parts[0] as ScanCandidate[])
      : mergeCandidates(parts, minGain, limit);
  }

  function addBlock(): void {
    const codes = reserve(blockRows * dim);
    const meta = reserve(blockRows * META_BYTES);
    if (blockTable.length < 2 * (blockCount + 1)) {
      const grown = new Int32Array(blockTable.length * 2);
      grown.set(blockTable);
      blockTable = grown;
    }
    blockTable[2 * blockCount] = codes;
    blockTable[2 * blockCount + 1] = meta;
    blockCount++;
  }

  /** Calls `copy(row, count)` for runs of rows [from, from + count) that lie in one block. */
  function runs(from: number, count: number, copy: (row: number, n: number) => void): void {
    for (let row = from; row < from + count; ) {
      const n = Math.min(from + count - row, blockRows - (row % blockRows));
      copy(row, n);
      row += n;
    }
  }

  return {
    get size() {
      return size;
    },
    get memoryBytes() {
      return memory.buffer.byteLength;
    },
    append(code, tagSet) {
      if (size === blockCount * blockRows) addBlock();
      write(size, code, tagSet);
      size++;
    },
    exportRows(rows, tagSetIds) {
      const count = rows.length;
      const codes = new Uint8Array(count * dim);
      const meta = new Uint8Array(count * META_BYTES);
      const view = new DataView(meta.buffer);
      const bytes = new Uint8Array(memory.buffer);
      for (let i = 0; i < count; i++) {
        const row = rows[i] as number;
        checkRow(row, size);
        const at = place(row);
        codes.set(bytes.subarray(at.codes, at.codes + dim), i * dim);
        meta.set(bytes.subarray(at.meta, at.meta + META_BYTES), i * META_BYTES);
        view.setInt32(i * META_BYTES + 16, tagSetIds[i] as number, true);
      }
      return { rows: count, codes, meta };
    },
    appendRows(batch, tagSetMap) {
      if (
        batch.codes.length !== batch.rows * dim ||
        batch.meta.length !== batch.rows * META_BYTES
      ) {
        throw new FacevaultError("data_loss", "row batch of the wrong size");
      }
      const from = size;
      while (blockCount * blockRows < from + batch.rows) addBlock();
      runs(from, batch.rows, (row, n) => {
        const at = place(row);
        const bytes = new Uint8Array(memory.buffer);
        const i = row - from;
        bytes.set(batch.codes.subarray(i * dim, (i + n) * dim), at.codes);
        bytes.set(batch.meta.subarray(i * META_BYTES, (i + n) * META_BYTES), at.meta);
        const view = new DataView(memory.buffer, at.meta, n * META_BYTES);
        for (let r = 0; r < n; r++) {
          const old = view.getInt32(r * META_BYTES + 16, true);
          const mapped = tagSetMap[old];
          if (mapped === undefined) throw new FacevaultError("data_loss", "unknown tag set");
          view.setInt32(r * META_BYTES + 16, mapped, true);
        }
      });
      size = from + batch.rows;
    },
    set(row, code, tagSet) {
      checkRow(row, size);
      write(row, code, tagSet);
    },
    removeSwap(row) {
      checkRow(row, size);
      const last = size - 1;
      if (row !== last) {
        const from = place(last);
        const to = place(row);
        const bytes = new Uint8Array(memory.buffer);
        bytes.copyWithin(to.codes, from.codes, from.codes + dim);
        bytes.copyWithin(to.meta, from.meta, from.meta + META_BYTES);
      }
      size--;
    },
    codeOf(row) {
      checkRow(row, size);
      return codeOf(row);
    },
    tagSetOf(row) {
      checkRow(row, size);
      return new DataView(memory.buffer, place(row).meta, META_BYTES).getInt32(16, true);
    },
    scan,
  };
}

function checkRow(row: number, size: number): void {
  if (!Number.isInteger(row) || row < 0 || row >= size) {
    throw new FacevaultError("internal", `row ${row} out of range`);
  }
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
