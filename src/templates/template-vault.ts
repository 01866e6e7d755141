import { FacevaultError, isFacevaultError } from "../errors.js";
import type { Bcid } from "../store/template-store.js";
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
  /** Seals one chunk of a partition's search snapshot under the partition key. */
  sealSnapshotChunk(at: SnapshotChunkAddress, plaintext: Uint8Array): Uint8Array;
  /** @throws FacevaultError `data_loss` when the chunk is not the one sealed for `at`. */
  openSnapshotChunk(at: SnapshotChunkAddress, blob: Uint8Array): Uint8Array;
}

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

  return {
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
