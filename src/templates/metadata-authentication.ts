import type { Logger } from "pino";
import { FacevaultError, isFacevaultError } from "../errors.js";
import type { TemplateStore, TemplateStoreMaintenance } from "../store/template-store.js";
import type { TemplateVault } from "./template-vault.js";

/** Attempts of a tag change that keeps meeting concurrent writes of the same class. */
const SET_TAGS_ATTEMPTS = 5;
/** Templates read per backfill batch. */
const BACKFILL_BATCH = 500;

/**
 * The template store with authenticated metadata: every `put` carries the metadata MAC the
 * vault makes, `setTags` re-makes it for the new tags (at the version it read, retried when a
 * concurrent write intervenes), and `get` checks it, so tags or counts changed in the database
 * fail with `data_loss` like a tampered blob. Every other method is the store's own.
 */
export function withAuthenticatedMetadata(
  store: TemplateStore,
  vault: Pick<TemplateVault, "metadataMac" | "checkMetadata">,
): TemplateStore {
  return {
    kind: store.kind,
    async get(bcid) {
      const stored = await store.get(bcid);
      if (stored !== undefined) vault.checkMetadata(stored);
      return stored;
    },
    put: (template, expectedVersion) =>
      store.put({ ...template, metadataMac: vault.metadataMac(template) }, expectedVersion),
    async setTags(bcid, tags) {
      for (let attempt = 1; ; attempt++) {
        const stored = await store.get(bcid);
        if (stored === undefined) return false;
        vault.checkMetadata(stored);
        const metadataMac = vault.metadataMac({ ...stored, tags });
        try {
          return await store.setTags(bcid, tags, { metadataMac, expectedVersion: stored.version });
        } catch (err) {
          if (!isFacevaultError(err, "aborted")) throw err;
          if (attempt >= SET_TAGS_ATTEMPTS) {
            throw new FacevaultError(
              "aborted",
              `class ${bcid.classId} is being changed concurrently too often; retry`,
              { cause: err },
            );
          }
        }
      }
    },
    delete: (bcid) => store.delete(bcid),
    partitionChanges: (storage, partition, since) =>
      store.partitionChanges(storage, partition, since),
    compactPage: (storage, partition, after, limit, through) =>
      store.compactPage(storage, partition, after, limit, through),
    compactTemplates: (storage, partition, ids) => store.compactTemplates(storage, partition, ids),
    putSearchSnapshot: (storage, partition, snapshot) =>
      store.putSearchSnapshot(storage, partition, snapshot),
    resealSearchSnapshotChunk: (storage, partition, snapshotId, chunk, bytes) =>
      store.resealSearchSnapshotChunk(storage, partition, snapshotId, chunk, bytes),
    searchSnapshot: (storage, partition) => store.searchSnapshot(storage, partition),
    searchSnapshotChunk: (storage, partition, snapshotId, chunk) =>
      store.searchSnapshotChunk(storage, partition, snapshotId, chunk),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}

/**
 * Gives every template stored before metadata MACs existed (migration 3) its MAC, computed from
 * the row as it is now. Run at start, before the server answers, by every process (idempotent:
 * a row already given one, or changed meanwhile, is left alone). A row whose blob cannot be
 * opened keeps none and so reads as `data_loss`, as its blob would. Returns how many were set.
 */
export async function backfillMetadataMacs(
  store: Pick<TemplateStoreMaintenance, "templatesWithoutMetadataMac" | "setMetadataMac">,
  vault: Pick<TemplateVault, "metadataMac">,
  logger: Logger,
): Promise<number> {
  let done = 0;
  const unreadable = new Set<string>();
  for (;;) {
    const rows = await store.templatesWithoutMetadataMac(BACKFILL_BATCH);
    let progress = 0;
    for (const row of rows) {
      const id = `${row.bcid.storage}|${row.bcid.partition}|${row.bcid.classId}`;
      if (unreadable.has(id)) continue;
      let metadataMac: Uint8Array;
      try {
        metadataMac = vault.metadataMac(row);
      } catch (err) {
        if (!isFacevaultError(err, "data_loss")) throw err;
        unreadable.add(id);
        continue;
      }
      if (await store.setMetadataMac(row.bcid, { metadataMac, expectedVersion: row.version })) {
        done++;
      }
      progress++;
    }
    // Only unreadable rows left (or none): they stay without a MAC.
    if (progress === 0) break;
  }
  if (done > 0) logger.info({ templates: done }, "template metadata MACs added to older rows");
  if (unreadable.size > 0) {
    logger.error(
      { templates: unreadable.size },
      "templates whose blobs cannot be opened got no metadata MAC; they answer DATA_LOSS",
    );
  }
  return done;
}
