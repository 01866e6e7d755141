import { createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { FacevaultError } from "../errors.js";

/**
 * The export archive: a text file, one line each.
 * ```
 * {"format":"facevault-export/1", storage, partition, kdf, salt, created}      header, in clear
 * base64(iv[12] | tag[16] | AES-256-GCM(record JSON))                            one per template
 * end base64(iv | tag | AES-256-GCM({"count": n, "sha256": hex of the record lines}))
 * ```
 * Every record is sealed with the header line and its index as additional data, so records
 * cannot be reordered, moved to another archive or edited; the sealed end line counts and
 * checksums them, so a truncated or spliced archive is refused before anything is imported.
 * The key comes from a passphrase (scrypt, N=2^15, r=8, p=1, salt in the header) or is a key
 * file of 32 bytes (base64). Records are sealed one by one, so an export can be resumed by
 * appending after the last whole record.
 */
export interface ArchiveHeader {
  format: "facevault-export/1";
  storage: string;
  partition: number;
  kdf: "scrypt" | "key-file";
  /** base64; for scrypt. */
  salt: string;
  created: string;
}

/** One template, its biometric data as the enhanced template's bytes. */
export interface ArchiveRecord {
  classId: string;
  encoderVersion: number;
  tags: string[];
  createdAt: string;
  enrolledAt: string;
  /** base64 of encodeEnhanced(): feature vectors and thumbnails. */
  enhanced: string;
}

export interface ArchiveSecret {
  passphrase?: string;
  /** 32 bytes. */
  key?: Buffer;
}

const scryptParams = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

/** Reads `--passphrase-file` / FACEVAULT_EXPORT_PASSPHRASE or `--key-file` into a secret. */
export function readArchiveSecret(options: { passphraseFile?: string; keyFile?: string }) {
  if (options.keyFile) {
    const key = Buffer.from(readSecretFile(options.keyFile), "base64");
    if (key.length !== 32) {
      throw new FacevaultError(
        "invalid_argument",
        `${options.keyFile} must hold 32 bytes in base64`,
      );
    }
    return { key };
  }
  const passphrase = options.passphraseFile
    ? readSecretFile(options.passphraseFile)
    : process.env.FACEVAULT_EXPORT_PASSPHRASE;
  if (!passphrase) {
    throw new FacevaultError(
      "invalid_argument",
      "give --passphrase-file, --key-file or FACEVAULT_EXPORT_PASSPHRASE: archives are always encrypted",
    );
  }
  if (passphrase.length < 12) {
    throw new FacevaultError("invalid_argument", "the passphrase must have at least 12 characters");
  }
  return { passphrase };
}

function readSecretFile(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new FacevaultError("invalid_argument", `cannot read ${path}`, { cause: err });
  }
}

/** A new header for `secret`. */
export function newHeader(
  storage: string,
  partition: number,
  secret: ArchiveSecret,
): ArchiveHeader {
  return {
    format: "facevault-export/1",
    storage,
    partition,
    kdf: secret.key ? "key-file" : "scrypt",
    salt: randomBytes(16).toString("base64"),
    created: new Date().toISOString(),
  };
}

/** Seals and opens the lines of one archive. */
export interface ArchiveCipher {
  sealRecord(index: number, record: ArchiveRecord): string;
  openRecord(index: number, line: string): ArchiveRecord;
  sealEnd(count: number, sha256: string): string;
  openEnd(line: string): { count: number; sha256: string };
}

export function archiveCipher(headerLine: string, secret: ArchiveSecret): ArchiveCipher {
  const header = parseHeader(headerLine);
  if ((header.kdf === "key-file") !== Boolean(secret.key)) {
    throw new FacevaultError(
      "invalid_argument",
      `this archive was encrypted with ${header.kdf === "key-file" ? "a key file (--key-file)" : "a passphrase"}`,
    );
  }
  const key =
    secret.key ??
    scryptSync(secret.passphrase ?? "", Buffer.from(header.salt, "base64"), 32, scryptParams);
  const seal = (aad: string, plain: Buffer) => {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
  };
  const open = (aad: string, line: string, what: string) => {
    const blob = Buffer.from(line, "base64");
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, blob.subarray(0, 12));
      decipher.setAAD(Buffer.from(aad));
      decipher.setAuthTag(blob.subarray(12, 28));
      return Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]);
    } catch (err) {
      throw new FacevaultError(
        "data_loss",
        `${what} failed authentication: wrong passphrase or key, or the archive was changed`,
        { cause: err },
      );
    }
  };
  return {
    sealRecord: (i, r) => seal(`${headerLine}|${i}`, Buffer.from(JSON.stringify(r))),
    openRecord: (i, line) =>
      JSON.parse(open(`${headerLine}|${i}`, line, `record ${i + 1}`).toString()) as ArchiveRecord,
    sealEnd: (count, sha256) =>
      `end ${seal(`${headerLine}|end`, Buffer.from(JSON.stringify({ count, sha256 })))}`,
    openEnd: (line) =>
      JSON.parse(open(`${headerLine}|end`, line.slice(4), "the archive's end").toString()) as {
        count: number;
        sha256: string;
      },
  };
}

export function parseHeader(line: string): ArchiveHeader {
  let header: ArchiveHeader;
  try {
    header = JSON.parse(line) as ArchiveHeader;
  } catch {
    header = {} as ArchiveHeader;
  }
  if (header.format !== "facevault-export/1") {
    throw new FacevaultError(
      "invalid_argument",
      "not a facevault export archive (or a newer format)",
    );
  }
  return header;
}

/** SHA-256 over record lines, as the end line states it. */
export function recordsDigest(lines: readonly string[]): string {
  const hash = createHash("sha256");
  for (const line of lines) hash.update(`${line}\n`);
  return hash.digest("hex");
}
