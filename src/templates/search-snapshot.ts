/**
 * The layout of one chunk of a partition's search snapshot, before sealing. A snapshot is the
 * index itself (class ids, tag sets, int8 codes and bound numbers) in chunks of consecutive
 * class ids, so that a process loads a partition with one decryption per chunk instead of one
 * per template, and a delete erases one chunk, not the snapshot. Every chunk stands alone: its
 * rows' tag-set ids index its own tag table. Little-endian:
 * ```
 * "FVS2" | rows u32 | tagTableBytes u32 | 0 u32 | tag table (UTF-8 JSON string[][])
 *   | zero padding to 8 | classIds rows × i64 | metadata rows × 20 | codes rows × paddedDimension
 * ```
 */
import { FacevaultError } from "../errors.js";
import type { VectorMetric } from "../face/encoders.js";
import type { RowBatch } from "./quantized-rows.js";

const MAGIC = 0x32535646; // "FVS2" read little-endian
const META_BYTES = 20;

/**
 * The format name stored with a snapshot. A reader ignores snapshots of any other name: change
 * the version here whenever the quantizer, the row metadata or this layout changes.
 */
export function snapshotFormat(
  paddedDimension: number,
  metric: VectorMetric,
  encoderVersion: number,
): string {
  return `fvs2.d${paddedDimension}.${metric}.e${encoderVersion}`;
}

export interface SnapshotChunk {
  classIds: BigInt64Array;
  batch: RowBatch;
  /** The tag lists the rows' tag-set ids refer to. */
  tagSets: string[][];
}

function malformed(): FacevaultError {
  return new FacevaultError("data_loss", "search snapshot chunk is malformed");
}

export function encodeSnapshotChunk(chunk: SnapshotChunk): Uint8Array {
  const { rows, codes, meta } = chunk.batch;
  const tags = Buffer.from(JSON.stringify(chunk.tagSets));
  const head = 16 + tags.length;
  const idsAt = Math.ceil(head / 8) * 8;
  const out = Buffer.alloc(idsAt + rows * 8 + meta.length + codes.length);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(rows, 4);
  out.writeUInt32LE(tags.length, 8);
  tags.copy(out, 16);
  out.set(new Uint8Array(chunk.classIds.buffer, chunk.classIds.byteOffset, rows * 8), idsAt);
  out.set(meta, idsAt + rows * 8);
  out.set(codes, idsAt + rows * 8 + meta.length);
  return out;
}

/** @throws FacevaultError `data_loss` when the bytes do not hold a chunk of this dimension. */
export function decodeSnapshotChunk(bytes: Uint8Array, paddedDimension: number): SnapshotChunk {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 16 || buf.readUInt32LE(0) !== MAGIC) throw malformed();
  const rows = buf.readUInt32LE(4);
  const tagBytes = buf.readUInt32LE(8);
  const idsAt = Math.ceil((16 + tagBytes) / 8) * 8;
  const metaAt = idsAt + rows * 8;
  const codesAt = metaAt + rows * META_BYTES;
  if (buf.length !== codesAt + rows * paddedDimension) throw malformed();
  let tagSets: string[][];
  try {
    tagSets = JSON.parse(buf.toString("utf8", 16, 16 + tagBytes)) as string[][];
  } catch {
    throw malformed();
  }
  if (!Array.isArray(tagSets) || !tagSets.every((t) => Array.isArray(t))) throw malformed();
  // Copied out: the chunk's buffer need not be 8-aligned.
  const classIds = new BigInt64Array(rows);
  new Uint8Array(classIds.buffer).set(buf.subarray(idsAt, metaAt));
  return {
    classIds,
    batch: {
      rows,
      meta: buf.subarray(metaAt, codesAt),
      codes: buf.subarray(codesAt),
    },
    tagSets,
  };
}
