import { createHmac, timingSafeEqual } from "node:crypto";
import { FacevaultError, isFacevaultError } from "../errors.js";
import type { Bcid, TemplateWrite } from "../store/template-store.js";
import {
  type CompactTemplate,
  decodeCompact,
  decodeEnhanced,
  type EnhancedTemplate,
  encodeCompact,
  encodeEnhanced,
} from "./template-codec.js";
import type { TemplateSealer } from "./template-sealer.js";

export interface TemplateVaultOptions {
  sealer: TemplateSealer;
}

/**
 * Seals and opens the two template parts of one BCID. The additional authenticated data names
 * the part and the BCID, so a blob moved to another class or partition fails to open.
 */
export interface TemplateVault {
  sealEnhanced(bcid: Bcid, template: EnhancedTemplate): Uint8Array;
  openEnhanced(bcid: Bcid, blob: Uint8Array): EnhancedTemplate;
  /** `perTemplateKey` is the client's `encryptCompactTemplate`. */
  sealCompact(bcid: Bcid, template: CompactTemplate, perTemplateKey: boolean): Uint8Array;
  openCompact(bcid: Bcid, blob: Uint8Array): CompactTemplate;
  /**
   * The MAC of a template's metadata (BCID, encoder version, tags, creation and enrollment
   * times, feature and thumbnail counts), keyed from the data key of its `enhanced` blob: the
   * metadata is bound to that blob, and re-wrapping the blob's key under a new master key keeps
   * the MAC valid. 32 bytes.
   */
  metadataMac(template: TemplateMetadata): Uint8Array;
  /**
   * @throws FacevaultError `data_loss` when the template's metadata MAC is missing or does not
   *   match (metadata changed in the database, or moved to another blob).
   */
  checkMetadata(template: TemplateMetadata & { metadataMac?: Uint8Array }): void;
  /** Seals one chunk of a partition's search snapshot under the partition key. */
  sealSnapshotChunk(at: SnapshotChunkAddress, plaintext: Uint8Array): Uint8Array;
  /** @throws FacevaultError `data_loss` when the chunk is not the one sealed for `at`. */
  openSnapshotChunk(at: SnapshotChunkAddress, blob: Uint8Array): Uint8Array;
}

/** What the metadata MAC covers, and the blob it is keyed from. */
export type TemplateMetadata = Pick<
  TemplateWrite,
  | "bcid"
  | "encoderVersion"
  | "tags"
  | "createdAt"
  | "enrolledAt"
  | "featureCount"
  | "thumbnailCount"
  | "enhanced"
>;

/** Where a snapshot chunk belongs; all of it is bound into the seal. */
export interface SnapshotChunkAddress {
  storage: string;
  partition: number;
  revision: number;
  chunk: number;
  chunks: number;
}

function snapshotAad(at: SnapshotChunkAddress): string {
  return `search-snapshot|${at.storage}|${at.partition}|${at.revision}|${at.chunk}/${at.chunks}`;
}

/** Creates the vault; see {@link TemplateVault}. */
export function createTemplateVault(options: TemplateVaultOptions): TemplateVault {
  const { sealer } = options;
  const aad = (part: string, bcid: Bcid) =>
    `${part}|${bcid.storage}|${bcid.partition}|${bcid.classId}`;

  function open<T>(part: string, bcid: Bcid, blob: Uint8Array, decode: (b: Uint8Array) => T): T {
    try {
      return decode(sealer.open(blob, aad(part, bcid)));
    } catch (err) {
      if (!isFacevaultError(err, "data_loss")) throw err;
      // Never use a template that fails authentication; say which class so operators can act.
      throw new FacevaultError(
        "data_loss",
        `the stored template of class ${bcid.classId} failed authentication and was not used`,
        { cause: err },
      );
    }
  }

  function metadataMac(template: TemplateMetadata): Buffer {
    const { bcid } = template;
    const key = sealer.blobMacKey(template.enhanced, aad("enhanced", bcid));
    try {
      // JSON: an unambiguous encoding (tags may hold any character but NUL).
      const message = JSON.stringify([
        "template-metadata-v1",
        bcid.storage,
        bcid.partition,
        bcid.classId.toString(),
        template.encoderVersion,
        template.tags,
        template.createdAt.getTime(),
        template.enrolledAt.getTime(),
        template.featureCount,
        template.thumbnailCount,
      ]);
      return createHmac("sha256", key).update(message, "utf8").digest();
    } finally {
      key.fill(0);
    }
  }

  return {
    metadataMac,
    checkMetadata(template) {
      const { bcid } = template;
      const failed = (reason: string, cause?: unknown) =>
        new FacevaultError(
          "data_loss",
          `the stored metadata (tags, counts, times) of class ${bcid.classId} ${reason} and was not used`,
          cause === undefined ? {} : { cause },
        );
      if (template.metadataMac === undefined) throw failed("has no authentication code");
      let expected: Buffer;
      try {
        expected = metadataMac(template);
      } catch (err) {
        if (isFacevaultError(err, "data_loss")) throw failed("failed authentication", err);
        throw err;
      }
      const actual = template.metadataMac;
      if (actual.byteLength !== expected.byteLength || !timingSafeEqual(actual, expected)) {
        throw failed("failed authentication");
      }
    },
    sealEnhanced: (bcid, template) => sealer.seal(encodeEnhanced(template), aad("enhanced", bcid)),
    openEnhanced: (bcid, blob) => open("enhanced", bcid, blob, decodeEnhanced),
    sealCompact: (bcid, template, perTemplateKey) =>
      perTemplateKey
        ? sealer.seal(encodeCompact(template), aad("compact", bcid))
        : sealer.sealWithPartitionKey(
            encodeCompact(template),
            aad("compact", bcid),
            `${bcid.storage}|${bcid.partition}`,
          ),
    openCompact: (bcid, blob) => open("compact", bcid, blob, decodeCompact),
    sealSnapshotChunk: (at, plaintext) =>
      sealer.sealWithPartitionKey(plaintext, snapshotAad(at), `${at.storage}|${at.partition}`),
    openSnapshotChunk: (at, blob) => sealer.open(blob, snapshotAad(at)),
  };
}
