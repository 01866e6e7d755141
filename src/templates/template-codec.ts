/**
 * Binary layout of the two template parts, before sealing. Little-endian; vectors are float32.
 *
 * enhanced: "FVE1" | encoderVersion u16 | dimension u16 | count u32 | count × (enrolledAt f64 ms, dimension × f32)
 *           | thumbnails u32 | thumbnails × (enrolledAt f64 ms, length u32, PNG bytes)
 * compact:  "FVC1" | encoderVersion u16 | dimension u16 | featureCount u32 | dimension × f32
 */
import { FacevaultError } from "../errors.js";

export interface FeatureEntry {
  enrolledAt: Date;
  vector: Float32Array;
}

export interface ThumbnailEntry {
  enrolledAt: Date;
  /** PNG bytes. */
  png: Uint8Array;
}

/** Everything enrolled into a class: all feature vectors and, optionally, the face thumbnails. */
export interface EnhancedTemplate {
  encoderVersion: number;
  features: FeatureEntry[];
  thumbnails: ThumbnailEntry[];
}

/** What matching needs: one vector summarising the class's feature vectors. */
export interface CompactTemplate {
  encoderVersion: number;
  /** How many feature vectors the summary was made from. */
  featureCount: number;
  vector: Float32Array;
}

const ENHANCED_MAGIC = 0x31455646; // "FVE1" read little-endian
const COMPACT_MAGIC = 0x31435646; // "FVC1"

function malformed(what: string): FacevaultError {
  return new FacevaultError("data_loss", `${what} template is malformed`);
}

/** Serializes an enhanced template; all vectors must share one dimension. */
export function encodeEnhanced(template: EnhancedTemplate): Uint8Array {
  const dimension = template.features[0]?.vector.length ?? 0;
  let size = 12 + template.features.length * (8 + dimension * 4) + 4;
  for (const t of template.thumbnails) size += 12 + t.png.length;
  const buf = Buffer.alloc(size);
  let o = buf.writeUInt32LE(ENHANCED_MAGIC, 0);
  o = buf.writeUInt16LE(template.encoderVersion, o);
  o = buf.writeUInt16LE(dimension, o);
  o = buf.writeUInt32LE(template.features.length, o);
  for (const f of template.features) {
    if (f.vector.length !== dimension) {
      throw new FacevaultError("internal", "feature vectors of one template differ in dimension");
    }
    o = buf.writeDoubleLE(f.enrolledAt.getTime(), o);
    Buffer.from(f.vector.buffer, f.vector.byteOffset, f.vector.byteLength).copy(buf, o);
    o += dimension * 4;
  }
  o = buf.writeUInt32LE(template.thumbnails.length, o);
  for (const t of template.thumbnails) {
    o = buf.writeDoubleLE(t.enrolledAt.getTime(), o);
    o = buf.writeUInt32LE(t.png.length, o);
    buf.set(t.png, o);
    o += t.png.length;
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Parses an enhanced template. @throws FacevaultError `data_loss` when malformed. */
export function decodeEnhanced(bytes: Uint8Array): EnhancedTemplate {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    if (buf.readUInt32LE(0) !== ENHANCED_MAGIC) throw malformed("enhanced");
    const encoderVersion = buf.readUInt16LE(4);
    const dimension = buf.readUInt16LE(6);
    const count = buf.readUInt32LE(8);
    let o = 12;
    const features: FeatureEntry[] = [];
    for (let i = 0; i < count; i++) {
      const enrolledAt = new Date(buf.readDoubleLE(o));
      o += 8;
      features.push({ enrolledAt, vector: readVector(buf, o, dimension) });
      o += dimension * 4;
    }
    const thumbnailCount = buf.readUInt32LE(o);
    o += 4;
    const thumbnails: ThumbnailEntry[] = [];
    for (let i = 0; i < thumbnailCount; i++) {
      const enrolledAt = new Date(buf.readDoubleLE(o));
      const length = buf.readUInt32LE(o + 8);
      o += 12;
      if (o + length > buf.length) throw malformed("enhanced");
      thumbnails.push({ enrolledAt, png: new Uint8Array(buf.subarray(o, o + length)) });
      o += length;
    }
    if (o !== buf.length) throw malformed("enhanced");
    return { encoderVersion, features, thumbnails };
  } catch (err) {
    if (err instanceof FacevaultError) throw err;
    throw malformed("enhanced"); // RangeError from a truncated buffer
  }
}

/** Serializes a compact template. */
export function encodeCompact(template: CompactTemplate): Uint8Array {
  const dimension = template.vector.length;
  const buf = Buffer.alloc(12 + dimension * 4);
  let o = buf.writeUInt32LE(COMPACT_MAGIC, 0);
  o = buf.writeUInt16LE(template.encoderVersion, o);
  o = buf.writeUInt16LE(dimension, o);
  o = buf.writeUInt32LE(template.featureCount, o);
  Buffer.from(template.vector.buffer, template.vector.byteOffset, template.vector.byteLength).copy(
    buf,
    o,
  );
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Parses a compact template. @throws FacevaultError `data_loss` when malformed. */
export function decodeCompact(bytes: Uint8Array): CompactTemplate {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 12 || buf.readUInt32LE(0) !== COMPACT_MAGIC) throw malformed("compact");
  const encoderVersion = buf.readUInt16LE(4);
  const dimension = buf.readUInt16LE(6);
  if (buf.length !== 12 + dimension * 4) throw malformed("compact");
  return {
    encoderVersion,
    featureCount: buf.readUInt32LE(8),
    vector: readVector(buf, 12, dimension),
  };
}

/** Copies `dimension` float32 values at `offset` into a fresh, aligned Float32Array. */
function readVector(buf: Buffer, offset: number, dimension: number): Float32Array {
  if (offset + dimension * 4 > buf.length) throw new RangeError("truncated");
  const out = new Float32Array(dimension);
  new Uint8Array(out.buffer).set(buf.subarray(offset, offset + dimension * 4));
  return out;
}
