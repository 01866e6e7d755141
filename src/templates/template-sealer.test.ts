import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { FacevaultError } from "../errors.js";
import { createTemplateSealer, type TemplateSealer } from "./template-sealer.js";

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const aad = "enhanced|main|7|9223372036854775807";
const plaintext = Buffer.from("feature vectors and thumbnails ".repeat(40), "utf8");

function expectDataLoss(action: () => unknown): FacevaultError {
  let caught: unknown;
  try {
    action();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(FacevaultError);
  const error = caught as FacevaultError;
  expect(error.kind).toBe("data_loss");
  return error;
}

function flipped(blob: Uint8Array, index: number): Uint8Array {
  const copy = Uint8Array.from(blob);
  copy[index] = (copy[index] as number) ^ 0x01;
  return copy;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).indexOf(Buffer.from(needle)) !== -1;
}

describe("createTemplateSealer", () => {
  it("derives the key id from the key with HMAC-SHA256", () => {
    const sealer = createTemplateSealer({ masterKeys: [keyA, keyB] });
    const expected = createHmac("sha256", keyA)
      .update("facevault master key id")
      .digest()
      .subarray(0, 8)
      .toString("hex");
    expect(sealer.currentKeyId).toBe(expected);
  });

  it("rejects missing, short and duplicate master keys without printing them", () => {
    const cases: Uint8Array[][] = [[], [randomBytes(16)], [keyA, keyA]];
    for (const masterKeys of cases) {
      try {
        createTemplateSealer({ masterKeys });
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(FacevaultError);
        expect((err as FacevaultError).kind).toBe("invalid_argument");
        expect((err as Error).message).not.toContain(keyA.toString("hex"));
      }
    }
  });
});

// Both modes must pass the same tamper and binding checks.
const modes: {
  name: string;
  seal: (sealer: TemplateSealer, data: Uint8Array, aad: string) => Uint8Array;
  /** Byte ranges of each region in a blob of this mode. */
  regions: (blob: Uint8Array) => Record<string, [number, number]>;
}[] = [
  {
    name: "envelope (per-blob data key)",
    seal: (sealer, data, a) => sealer.seal(data, a),
    regions: (blob) => ({
      magic: [0, 1],
      mode: [1, 2],
      keyId: [2, 10],
      wrapIv: [10, 22],
      wrapTag: [22, 38],
      wrappedKey: [38, 70],
      iv: [70, 82],
      tag: [82, 98],
      ciphertext: [98, blob.byteLength],
    }),
  },
  {
    name: "partition key",
    seal: (sealer, data, a) => sealer.sealWithPartitionKey(data, a, "main|7"),
    regions: (blob) => ({
      magic: [0, 1],
      mode: [1, 2],
      keyId: [2, 10],
      contextLength: [10, 12],
      context: [12, 18],
      iv: [18, 30],
      tag: [30, 46],
      ciphertext: [46, blob.byteLength],
    }),
  },
];

describe.each(modes)("$name mode", ({ seal, regions }) => {
  const sealer = createTemplateSealer({ masterKeys: [keyA] });

  it("round-trips, including an empty plaintext", () => {
    expect(Buffer.from(sealer.open(seal(sealer, plaintext, aad), aad))).toEqual(plaintext);
    expect(sealer.open(seal(sealer, new Uint8Array(0), aad), aad).byteLength).toBe(0);
  });

  it("opens a blob that is a view into a larger buffer", () => {
    const blob = seal(sealer, plaintext, aad);
    const padded = new Uint8Array(blob.byteLength + 10);
    padded.set(blob, 5);
    const view = padded.subarray(5, 5 + blob.byteLength);
    expect(Buffer.from(sealer.open(view, aad))).toEqual(plaintext);
  });

  it("does not contain the plaintext, and seals the same input differently each time", () => {
    const first = seal(sealer, plaintext, aad);
    const second = seal(sealer, plaintext, aad);
    expect(contains(first, plaintext.subarray(0, 16))).toBe(false);
    expect(contains(first, Buffer.from("feature vectors"))).toBe(false);
    expect(Buffer.from(first).equals(Buffer.from(second))).toBe(false);
  });

  it("fails with data_loss when any byte of any region is changed", () => {
    const blob = seal(sealer, plaintext, aad);
    const layout = regions(blob);
    const covered = Object.values(layout).reduce((sum, [start, end]) => sum + end - start, 0);
    expect(covered).toBe(blob.byteLength);
    for (const [name, [start, end]] of Object.entries(layout)) {
      expect(end, name).toBeGreaterThan(start);
      for (const index of new Set([start, Math.floor((start + end) / 2), end - 1])) {
        expectDataLoss(() => sealer.open(flipped(blob, index), aad));
      }
    }
  });

  it("fails with data_loss when truncated or extended", () => {
    const blob = seal(sealer, plaintext, aad);
    for (const length of [0, 1, 2, 10, 11, 20, 45, 69, 97, blob.byteLength - 1]) {
      expectDataLoss(() => sealer.open(blob.subarray(0, length), aad));
    }
    const extended = new Uint8Array(blob.byteLength + 1);
    extended.set(blob);
    expectDataLoss(() => sealer.open(extended, aad));
  });

  it("fails with data_loss for another place (aad)", () => {
    const blob = seal(sealer, plaintext, aad);
    expectDataLoss(() => sealer.open(blob, "enhanced|main|7|9223372036854775806"));
    expectDataLoss(() => sealer.open(blob, "compact|main|7|9223372036854775807"));
    expectDataLoss(() => sealer.open(blob, ""));
  });

  it("is opened by a sealer that still lists the old key, which reports needsRewrap", () => {
    const blob = seal(sealer, plaintext, aad);
    expect(sealer.needsRewrap(blob)).toBe(false);
    const rotated = createTemplateSealer({ masterKeys: [keyB, keyA] });
    expect(rotated.currentKeyId).not.toBe(sealer.currentKeyId);
    expect(Buffer.from(rotated.open(blob, aad))).toEqual(plaintext);
    expect(rotated.needsRewrap(blob)).toBe(true);
    expect(rotated.needsRewrap(seal(rotated, plaintext, aad))).toBe(false);
  });

  it("fails with data_loss under an unknown key, naming no key bytes", () => {
    const blob = seal(sealer, plaintext, aad);
    const stranger = createTemplateSealer({ masterKeys: [keyB] });
    const error = expectDataLoss(() => stranger.open(blob, aad));
    expect(error.message).toContain("unknown master key");
    expect(error.message).not.toContain(keyA.toString("hex"));
    expect(error.message).not.toContain(keyA.toString("base64"));
    expectDataLoss(() => stranger.needsRewrap(blob));
  });
});

describe("partition key mode", () => {
  it("binds the partition context: a blob of another partition's key does not open", () => {
    const sealer = createTemplateSealer({ masterKeys: [keyA] });
    const blob = Buffer.from(sealer.sealWithPartitionKey(plaintext, aad, "main|7"));
    // Rewrite the stored context to another one of the same length.
    const moved = Buffer.from(blob);
    moved.write("main|8", 12, "utf8");
    expectDataLoss(() => sealer.open(moved, aad));
  });

  it("stores no wrapped key, so its blobs are smaller than envelope blobs", () => {
    const sealer = createTemplateSealer({ masterKeys: [keyA] });
    const partitionBlob = sealer.sealWithPartitionKey(plaintext, aad, "main|7");
    const envelopeBlob = sealer.seal(plaintext, aad);
    expect(partitionBlob.byteLength).toBe(plaintext.byteLength + 46);
    expect(envelopeBlob.byteLength).toBe(plaintext.byteLength + 98);
  });

  it("keeps opening after the derived-key cache evicts entries", () => {
    const sealer = createTemplateSealer({ masterKeys: [keyA], partitionKeyCacheSize: 2 });
    const blobs = ["a|1", "b|2", "c|3", "d|4"].map((context) => ({
      context,
      blob: sealer.sealWithPartitionKey(plaintext, context, context),
    }));
    for (const { context, blob } of blobs) {
      expect(Buffer.from(sealer.open(blob, context))).toEqual(plaintext);
    }
  });
});

describe("blobMacKey", () => {
  /**
   * What a re-keying does to an envelope blob, written from the documented layout: unwrap the
   * data key with the old master key, wrap the same data key under the new one. The body stays.
   */
  function rewrap(blob: Uint8Array, oldKey: Buffer, newKey: Buffer, place: string): Buffer {
    const bytes = Buffer.from(blob);
    const gcmAad = (header: Buffer) => Buffer.concat([header, Buffer.from(place, "utf8")]);
    const keyHeader = bytes.subarray(0, 10);
    const decipher = createDecipheriv("aes-256-gcm", oldKey, bytes.subarray(10, 22));
    decipher.setAAD(gcmAad(keyHeader));
    decipher.setAuthTag(bytes.subarray(22, 38));
    const dataKey = Buffer.concat([decipher.update(bytes.subarray(38, 70)), decipher.final()]);
    const newId = createHmac("sha256", newKey).update("facevault master key id").digest();
    const newKeyHeader = Buffer.concat([bytes.subarray(0, 2), newId.subarray(0, 8)]);
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", newKey, iv);
    cipher.setAAD(gcmAad(newKeyHeader));
    const wrapped = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    const header = Buffer.concat([newKeyHeader, iv, cipher.getAuthTag(), wrapped]);
    // The body was authenticated with the old header: re-seal it under the same data key.
    const body = createDecipheriv("aes-256-gcm", dataKey, bytes.subarray(70, 82));
    body.setAAD(gcmAad(bytes.subarray(0, 70)));
    body.setAuthTag(bytes.subarray(82, 98));
    const clear = Buffer.concat([body.update(bytes.subarray(98)), body.final()]);
    const bodyIv = randomBytes(12);
    const again = createCipheriv("aes-256-gcm", dataKey, bodyIv);
    again.setAAD(gcmAad(header));
    const sealed = Buffer.concat([again.update(clear), again.final()]);
    return Buffer.concat([header, bodyIv, again.getAuthTag(), sealed]);
  }

  it("is the same after the blob's data key is re-wrapped under a new master key", () => {
    const before = createTemplateSealer({ masterKeys: [keyA] });
    const blob = before.seal(plaintext, aad);
    const macKey = before.blobMacKey(blob, aad);
    const moved = rewrap(blob, keyA, keyB, aad);
    const after = createTemplateSealer({ masterKeys: [keyB] });
    expect(Buffer.from(after.open(moved, aad)).equals(plaintext)).toBe(true);
    expect(after.blobMacKey(moved, aad).equals(macKey)).toBe(true);
    // Only from the header, and bound to the place and to the blob's own data key.
    expect(after.blobMacKey(moved.subarray(0, 70), aad).equals(macKey)).toBe(true);
    expect(before.blobMacKey(before.seal(plaintext, aad), aad).equals(macKey)).toBe(false);
    expectDataLoss(() => after.blobMacKey(moved, `${aad}0`));
    expectDataLoss(() => before.blobMacKey(moved, aad));
  });
});
