/**
 * Sealed feature-vector fixtures for tests: `FVV1` | dimension u32 | count u32 | count × dimension
 * float32, little-endian, sealed by the project's TemplateSealer under a fixed test-only key
 * (vectors are biometric data and never lie on disk in clear, even those of public test photos).
 */
import { readFileSync } from "node:fs";
import { createTemplateSealer } from "../../src/templates/template-sealer.js";

/** Test-only master key of the vector fixtures; not a secret and never used for real data. */
export const vectorFixtureKey = new Uint8Array(32).fill(0x5e);
export const VECTOR_FIXTURE_AAD = "facevault test fixture|feature vectors";
const MAGIC = 0x31565646; // "FVV1" little-endian

export function encodeVectorFixture(vectors: readonly Float32Array[]): Uint8Array {
  const dimension = vectors[0]?.length ?? 0;
  const buf = Buffer.alloc(12 + vectors.length * dimension * 4);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(dimension, 4);
  buf.writeUInt32LE(vectors.length, 8);
  vectors.forEach((v, i) => {
    Buffer.from(v.buffer, v.byteOffset, v.byteLength).copy(buf, 12 + i * dimension * 4);
  });
  return buf;
}

/** Opens a sealed vector fixture file; the vectors in file order. */
export function readVectorFixture(path: string): Float32Array[] {
  const sealer = createTemplateSealer({ masterKeys: [vectorFixtureKey] });
  const buf = Buffer.from(sealer.open(readFileSync(path), VECTOR_FIXTURE_AAD));
  if (buf.readUInt32LE(0) !== MAGIC) throw new Error(`${path} is not a vector fixture`);
  const dimension = buf.readUInt32LE(4);
  const count = buf.readUInt32LE(8);
  const all = new Float32Array(count * dimension);
  new Uint8Array(all.buffer).set(buf.subarray(12, 12 + count * dimension * 4));
  return Array.from({ length: count }, (_, i) => all.subarray(i * dimension, (i + 1) * dimension));
}
