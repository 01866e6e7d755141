import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import { FacevaultError } from "../errors.js";

/**
 * Envelope encryption for template blobs (AES-256-GCM throughout).
 *
 * Blob layout, all integers big-endian:
 * ```
 * envelope  (mode 1): magic | mode | keyId[8] | wrapIv[12] | wrapTag[16] | wrappedKey[32] | iv[12] | tag[16] | ciphertext
 * partition (mode 2): magic | mode | keyId[8] | contextLength u16 | context (UTF-8) | iv[12] | tag[16] | ciphertext
 * ```
 * Everything before `iv` is the header. Every GCM operation authenticates its header prefix
 * followed by the caller's `aad` string, so changing any header byte, or opening the blob for
 * another place, fails authentication.
 */
export interface TemplateSealerOptions {
  /**
   * AES-256 master keys, 32 bytes each. The first seals; all of them open (rotation: put the new
   * key first and keep the old ones until every blob has been re-sealed). Copied at creation.
   */
  masterKeys: readonly Uint8Array[];
  /** Most partition keys kept derived in memory. Default 1024. */
  partitionKeyCacheSize?: number;
}

export interface TemplateSealer {
  /** Id of the master key that seals, 16 lowercase hex digits (not secret). */
  readonly currentKeyId: string;
  /**
   * Seals under a fresh random data key, wrapped by the current master key. `aad` names the
   * blob's place, e.g. `enhanced|<storage>|<partition>|<classId>`; `open` must be given the same.
   */
  seal(plaintext: Uint8Array, aad: string): Uint8Array;
  /**
   * Seals directly under a key derived (HKDF-SHA256) from the current master key and
   * `partitionContext`: no per-blob key wrap, so opening many compact templates is cheaper.
   * The context is stored in the blob in clear; it must not be secret.
   */
  sealWithPartitionKey(plaintext: Uint8Array, aad: string, partitionContext: string): Uint8Array;
  /**
   * Opens a blob of either mode sealed under any known master key.
   * @throws FacevaultError `data_loss` when the blob is malformed, tampered with, sealed for
   *   another `aad`, or sealed under an unknown key. The message names no key material.
   */
  open(blob: Uint8Array, aad: string): Uint8Array;
  /**
   * A 32-byte key for authenticating data that belongs with an envelope blob (its template's
   * metadata), derived (HKDF-SHA256) from the blob's own data key. Re-wrapping that data key
   * under a new master key leaves this key, and so every MAC made with it, unchanged. Reads
   * only the blob's header (the first {@link ENVELOPE_HEADER_BYTES} bytes are enough).
   * @throws FacevaultError `data_loss` when the header is not an envelope sealed for `aad`
   *   under a known master key.
   */
  blobMacKey(blob: Uint8Array, aad: string): Buffer;
  /**
   * True when the blob was sealed under a master key other than the current one.
   * @throws FacevaultError `data_loss` when the blob header is malformed.
   */
  needsRewrap(blob: Uint8Array): boolean;
}

const MAGIC = 0xfb;
const MODE_ENVELOPE = 1;
const MODE_PARTITION = 2;
const KEY_BYTES = 32;
const KEY_ID_BYTES = 8;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_END = 2 + KEY_ID_BYTES;
/**
 * End of the envelope header: magic, mode, key id, wrap iv, wrap tag, wrapped key. What
 * {@link TemplateSealer.blobMacKey} reads.
 */
export const ENVELOPE_HEADER_BYTES = KEY_ID_END + IV_BYTES + TAG_BYTES + KEY_BYTES;
const MAX_CONTEXT_BYTES = 0xffff;
const KEY_ID_LABEL = "facevault master key id";
const MAC_KEY_SALT = Buffer.from("facevault blob mac key v1", "utf8");

const HKDF_SALT = Buffer.from("facevault partition key v1", "utf8");

/** Creates a sealer over the given master keys; see {@link TemplateSealerOptions}. */
export function createTemplateSealer(options: TemplateSealerOptions): TemplateSealer {
  const cacheSize = options.partitionKeyCacheSize ?? 1024;
  if (options.masterKeys.length === 0) {
    throw new FacevaultError("invalid_argument", "at least one master key is required");
  }
  const keysById = new Map<string, Buffer>();
  options.masterKeys.forEach((key, index) => {
    if (!(key instanceof Uint8Array) || key.byteLength !== KEY_BYTES) {
      throw new FacevaultError(
        "invalid_argument",
        `master key #${index} must be ${KEY_BYTES} bytes`,
      );
    }
    const id = keyIdOf(key);
    if (keysById.has(id)) {
      throw new FacevaultError("invalid_argument", `master key #${index} is listed twice`);
    }
    keysById.set(id, Buffer.from(key));
  });
  const currentKeyId = keyIdOf(options.masterKeys[0] as Uint8Array);
  const currentKey = keysById.get(currentKeyId) as Buffer;
  const currentKeyIdBytes = Buffer.from(currentKeyId, "hex");
  const partitionKeys = new Map<string, Buffer>();

  // Derived from the context's bytes as stored in the blob, so opening never re-encodes text.
  function partitionKey(keyId: string, masterKey: Buffer, context: Buffer): Buffer {
    const cacheKey = `${keyId}:${context.toString("base64")}`;
    let key = partitionKeys.get(cacheKey);
    if (key === undefined) {
      key = Buffer.from(hkdfSync("sha256", masterKey, HKDF_SALT, context, KEY_BYTES));
      if (partitionKeys.size >= cacheSize) {
        // Maps iterate in insertion order: drop the oldest derivation.
        const oldest = partitionKeys.keys().next();
        if (oldest.done !== true) partitionKeys.delete(oldest.value);
      }
      partitionKeys.set(cacheKey, key);
    }
    return key;
  }

  function masterKeyFor(blob: Buffer): { id: string; key: Buffer } {
    const id = blob.subarray(2, KEY_ID_END).toString("hex");
    const key = keysById.get(id);
    if (key === undefined) throw dataLoss(`sealed under unknown master key ${id}`);
    return { id, key };
  }

  return {
    currentKeyId,

    seal(plaintext, aad) {
      const dataKey = randomBytes(KEY_BYTES);
      try {
        const prefix = Buffer.from([MAGIC, MODE_ENVELOPE]);
        const keyHeader = Buffer.concat([prefix, currentKeyIdBytes]);
        const wrap = gcmSeal(currentKey, dataKey, keyHeader, aad);
        const header = Buffer.concat([keyHeader, wrap.iv, wrap.tag, wrap.ciphertext]);
        const body = gcmSeal(dataKey, plaintext, header, aad);
        return Buffer.concat([header, body.iv, body.tag, body.ciphertext]);
      } finally {
        dataKey.fill(0);
      }
    },

    sealWithPartitionKey(plaintext, aad, partitionContext) {
      const context = Buffer.from(partitionContext, "utf8");
      if (context.byteLength > MAX_CONTEXT_BYTES) {
        throw new FacevaultError("invalid_argument", "partition context is too long");
      }
      const length = Buffer.alloc(2);
      length.writeUInt16BE(context.byteLength);
      const header = Buffer.concat([
        Buffer.from([MAGIC, MODE_PARTITION]),
        currentKeyIdBytes,
        length,
        context,
      ]);
      const key = partitionKey(currentKeyId, currentKey, context);
      const body = gcmSeal(key, plaintext, header, aad);
      return Buffer.concat([header, body.iv, body.tag, body.ciphertext]);
    },

    open(blob, aad) {
      const bytes = asBuffer(blob);
      const mode = modeOf(bytes);
      const master = masterKeyFor(bytes);
      if (mode === MODE_ENVELOPE) {
        if (bytes.byteLength < ENVELOPE_HEADER_BYTES + IV_BYTES + TAG_BYTES) {
          throw dataLoss("truncated");
        }
        const dataKey = unwrapDataKey(master.key, bytes, aad);
        try {
          return openBody(dataKey, bytes, ENVELOPE_HEADER_BYTES, aad);
        } finally {
          dataKey.fill(0);
        }
      }
      if (bytes.byteLength < KEY_ID_END + 2) throw dataLoss("truncated");
      const headerEnd = KEY_ID_END + 2 + bytes.readUInt16BE(KEY_ID_END);
      if (bytes.byteLength < headerEnd + IV_BYTES + TAG_BYTES) throw dataLoss("truncated");
      const context = bytes.subarray(KEY_ID_END + 2, headerEnd);
      const key = partitionKey(master.id, master.key, context);
      return openBody(key, bytes, headerEnd, aad);
    },

    blobMacKey(blob, aad) {
      const bytes = asBuffer(blob);
      if (modeOf(bytes) !== MODE_ENVELOPE) throw dataLoss("not an envelope blob");
      if (bytes.byteLength < ENVELOPE_HEADER_BYTES) throw dataLoss("truncated");
      const master = masterKeyFor(bytes);
      const dataKey = unwrapDataKey(master.key, bytes, aad);
      try {
        return Buffer.from(hkdfSync("sha256", dataKey, MAC_KEY_SALT, aad, KEY_BYTES));
      } finally {
        dataKey.fill(0);
      }
    },

    needsRewrap(blob) {
      const bytes = asBuffer(blob);
      modeOf(bytes);
      masterKeyFor(bytes);
      return !bytes.subarray(2, KEY_ID_END).equals(currentKeyIdBytes);
    },
  };
}

/** Key id: the first 8 bytes of HMAC-SHA256(key, "facevault master key id"), as hex. */
function keyIdOf(key: Uint8Array): string {
  return createHmac("sha256", key)
    .update(KEY_ID_LABEL, "utf8")
    .digest()
    .subarray(0, KEY_ID_BYTES)
    .toString("hex");
}

/** The data key of an envelope blob (caller zeroes it). */
function unwrapDataKey(masterKey: Buffer, bytes: Buffer, aad: string): Buffer {
  const keyHeader = bytes.subarray(0, KEY_ID_END);
  const wrapIv = bytes.subarray(KEY_ID_END, KEY_ID_END + IV_BYTES);
  const wrapTag = bytes.subarray(KEY_ID_END + IV_BYTES, KEY_ID_END + IV_BYTES + TAG_BYTES);
  const wrapped = bytes.subarray(KEY_ID_END + IV_BYTES + TAG_BYTES, ENVELOPE_HEADER_BYTES);
  return gcmOpen(masterKey, wrapIv, wrapTag, wrapped, keyHeader, aad);
}

function modeOf(bytes: Buffer): number {
  if (bytes.byteLength < KEY_ID_END) throw dataLoss("truncated");
  if (bytes[0] !== MAGIC) throw dataLoss("not a sealed template blob");
  const mode = bytes[1] as number;
  if (mode !== MODE_ENVELOPE && mode !== MODE_PARTITION) {
    throw dataLoss(`unknown seal mode ${mode}`);
  }
  return mode;
}

function openBody(key: Buffer, bytes: Buffer, headerEnd: number, aad: string): Buffer {
  const iv = bytes.subarray(headerEnd, headerEnd + IV_BYTES);
  const tag = bytes.subarray(headerEnd + IV_BYTES, headerEnd + IV_BYTES + TAG_BYTES);
  const ciphertext = bytes.subarray(headerEnd + IV_BYTES + TAG_BYTES);
  return gcmOpen(key, iv, tag, ciphertext, bytes.subarray(0, headerEnd), aad);
}

function gcmSeal(
  key: Buffer,
  plaintext: Uint8Array,
  header: Buffer,
  aad: string,
): { iv: Buffer; tag: Buffer; ciphertext: Buffer } {
  // Random 96-bit IVs: safe far beyond the number of blobs one key will ever seal.
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.concat([header, Buffer.from(aad, "utf8")]));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, tag: cipher.getAuthTag(), ciphertext };
}

function gcmOpen(
  key: Buffer,
  iv: Buffer,
  tag: Buffer,
  ciphertext: Buffer,
  header: Buffer,
  aad: string,
): Buffer {
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.concat([header, Buffer.from(aad, "utf8")]));
    decipher.setAuthTag(tag);
    const plaintext = decipher.update(ciphertext);
    const rest = decipher.final();
    // GCM hands everything back from update(): no copy of a megabyte snapshot chunk to join.
    return rest.length === 0 ? plaintext : Buffer.concat([plaintext, rest]);
  } catch (cause) {
    throw dataLoss("authentication failed (tampered, or sealed for another place)", cause);
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  if (!(bytes instanceof Uint8Array)) throw dataLoss("not a byte array");
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function dataLoss(reason: string, cause?: unknown): FacevaultError {
  return new FacevaultError(
    "data_loss",
    `template blob cannot be opened: ${reason}`,
    cause === undefined ? {} : { cause },
  );
}
