/**
 * Persistence of face templates, addressed by BCID (storage + partition + class id).
 * Implementations only ever see opaque, already sealed template bytes. The bookkeeping log lives
 * in the same database behind its own interface, `JobLog` (job-log.ts).
 */

/** Biometric Class ID: where a template lives. */
export interface Bcid {
  /** Storage name, non-empty. */
  storage: string;
  /** Partition id, an integer in [0, 2^31 - 1]. */
  partition: number;
  /** Class id chosen by the client, in [1, 2^63 - 1]. */
  classId: bigint;
}

export interface StoredTemplate {
  bcid: Bcid;
  /** Version of the encoder that computed the feature vectors. */
  encoderVersion: number;
  tags: string[];
  /** First creation of this template. Stored as given, millisecond precision. */
  createdAt: Date;
  /** Last time images were enrolled into it (or it was rebuilt or upgraded). */
  enrolledAt: Date;
  featureCount: number;
  thumbnailCount: number;
  /** Compact template for matching, sealed by the caller. */
  compact: Uint8Array;
  /** Enhanced template (all feature vectors, optional thumbnails), sealed by the caller. */
  enhanced: Uint8Array;
  /** 1 after creation, +1 on every write (put, setTags): optimistic concurrency. */
  version: number;
  /**
   * Authenticates the metadata above (tags, counts, times, encoder) together with `enhanced`;
   * made and checked by the caller (TemplateVault), opaque here. Absent on rows written before
   * it existed and not yet given one (`templatesWithoutMetadataMac`).
   */
  metadataMac?: Uint8Array;
}

export type TemplateWrite = Omit<StoredTemplate, "version">;

/** What a search index needs of one template. */
export interface CompactEntry {
  classId: bigint;
  encoderVersion: number;
  tags: string[];
  compact: Uint8Array;
}

export interface PartitionChanges {
  /** The partition's revision this answer is consistent with; pass it as the next `sinceRevision`. */
  revision: number;
  /** Templates created or changed after `sinceRevision` (all templates when `full`), by class id. */
  upserts: CompactEntry[];
  /** Class ids deleted after `sinceRevision` and not re-created since. Empty when `full`. */
  deletes: bigint[];
  /** True when `upserts` is the whole partition: the reader must drop what it holds first. */
  full: boolean;
}

/** Most entries one `compactPage` or `compactTemplates` call reads. */
export const MAX_COMPACT_BATCH = 10_000;

/** One page of a partition's compact templates, to load a search index piece by piece. */
export interface CompactPage {
  /** The partition's revision in the snapshot the page was read from. */
  revision: number;
  /** Templates with a class id above the one asked for, ascending, at most `limit`. */
  entries: CompactEntry[];
}

/**
 * One chunk of a search snapshot as written: the sealed rows of the classes with ids in
 * [`firstClassId`, `lastClassId`]. The ranges of a snapshot's chunks ascend and do not overlap,
 * so a delete clears only the chunk that can hold the deleted class.
 */
export interface SnapshotChunkWrite {
  bytes: Uint8Array;
  firstClassId: bigint;
  lastClassId: bigint;
}

/** A search snapshot to store: its chunks, sealed by the caller, as of `revision`. */
export interface SearchSnapshotWrite {
  revision: number;
  /** The writer's layout name (see {@link SearchSnapshotInfo.format}). */
  format: string;
  chunks: readonly SnapshotChunkWrite[];
}

/** One chunk of a stored search snapshot. */
export interface StoredSnapshotChunk {
  firstClassId: bigint;
  lastClassId: bigint;
  /**
   * The sealed rows; undefined once a class in the range was deleted (the rows are erased with
   * it): a reader loads that range from the templates instead.
   */
  bytes?: Uint8Array;
}

/** A partition's stored search snapshot: sealed chunks of its index as of a revision. */
export interface SearchSnapshotInfo {
  /**
   * Which write this is (the store picks it): chunks are read by it, so a reader notices a
   * snapshot replaced while it reads, even by one made at the same revision.
   */
  id: number;
  revision: number;
  /** The writer's layout name; a reader that does not know it ignores the snapshot. */
  format: string;
  chunks: number;
}

export interface TemplateStore {
  readonly kind: "sqlite" | "postgres";
  get(bcid: Bcid): Promise<StoredTemplate | undefined>;
  /**
   * Creates or replaces a template. `expectedVersion` 0 means the template must not exist yet;
   * otherwise it must be the version last read. Returns the new version.
   * @throws FacevaultError `aborted` on a version mismatch (nothing is changed): re-read, merge
   *   and retry. Atomic: a crash leaves the old row or the new one.
   */
  put(template: TemplateWrite, expectedVersion: number): Promise<number>;
  /**
   * Replaces all tags (and bumps the version); false when there is no template. With `metadata`,
   * also replaces the metadata MAC, and only when the template is still at `expectedVersion`.
   * @throws FacevaultError `aborted` when it is not (nothing is changed): re-read and retry.
   */
  setTags(bcid: Bcid, tags: string[], metadata?: MetadataMacUpdate): Promise<boolean>;
  /** Removes every piece of biometric data of the class; false when there is no template. */
  delete(bcid: Bcid): Promise<boolean>;
  /**
   * Compact templates of one partition changed after `sinceRevision` (0 = everything, with
   * `full: true`), read from one snapshot. Also `full: true` when the changes since then can no
   * longer be told (tombstones pruned, or `sinceRevision` is ahead of the store).
   */
  partitionChanges(
    storage: string,
    partition: number,
    sinceRevision: number,
  ): Promise<PartitionChanges>;
  /**
   * Compact templates of one partition with class id > `afterClassId` (0 for the first page)
   * and <= `throughClassId` (default: no bound), ascending, at most `limit` (1 to
   * {@link MAX_COMPACT_BATCH}), read in one snapshot together with the partition's revision.
   * Pages read one after another come from different snapshots: a reader that pages through a
   * partition catches up with `partitionChanges` from the first page's revision.
   */
  compactPage(
    storage: string,
    partition: number,
    afterClassId: bigint,
    limit: number,
    throughClassId?: bigint,
  ): Promise<CompactPage>;
  /**
   * The compact templates of those classes of a partition that exist, each once, in no set
   * order; at most {@link MAX_COMPACT_BATCH} class ids.
   */
  compactTemplates(
    storage: string,
    partition: number,
    classIds: readonly bigint[],
  ): Promise<CompactEntry[]>;
  /**
   * Replaces the partition's search snapshot with `chunks` (sealed by the caller) made at
   * `revision`. Stored only when no template of the partition was deleted after `revision` and
   * `revision` is not ahead of the partition, so a snapshot never holds a deleted class (a
   * delete clears the chunk whose range holds the class, in the same transaction). Returns
   * whether it was stored.
   */
  putSearchSnapshot(
    storage: string,
    partition: number,
    snapshot: SearchSnapshotWrite,
  ): Promise<boolean>;
  /**
   * Replaces the bytes of one chunk of snapshot `snapshotId` (a re-seal under a new master key).
   * False when that snapshot is gone or the chunk was cleared meanwhile: a cleared chunk stays
   * cleared.
   */
  resealSearchSnapshotChunk(
    storage: string,
    partition: number,
    snapshotId: number,
    chunk: number,
    bytes: Uint8Array,
  ): Promise<boolean>;
  /** The partition's search snapshot, if one is stored. */
  searchSnapshot(storage: string, partition: number): Promise<SearchSnapshotInfo | undefined>;
  /** Chunk `chunk` of snapshot `snapshotId`; undefined once it was replaced. */
  searchSnapshotChunk(
    storage: string,
    partition: number,
    snapshotId: number,
    chunk: number,
  ): Promise<StoredSnapshotChunk | undefined>;
  /**
   * One cheap round trip to the database, to tell whether it can be used.
   * @throws FacevaultError `unavailable` when it cannot be reached or used.
   */
  ping(): Promise<void>;
  /** Releases connections; idempotent. Later calls fail with `unavailable`. */
  close(): Promise<void>;
}

/** The new metadata MAC of a write that changes metadata only. */
export interface MetadataMacUpdate {
  metadataMac: Uint8Array;
  /** The version the MAC was computed for (the last one read). */
  expectedVersion: number;
}

/**
 * Maintenance the concrete stores offer beyond the request path (for the CLI). Not part of
 * {@link TemplateStore} so that test doubles of the request path need not implement it.
 */
export interface TemplateStoreMaintenance {
  /**
   * Forgets deletion tombstones of a partition with revision <= `throughRevision`. Readers whose
   * `sinceRevision` is below that get a full reload instead. Returns how many were removed.
   */
  pruneTombstones(storage: string, partition: number, throughRevision: number): Promise<number>;
  /** Applied migration versions, ascending. */
  migrationVersions(): Promise<number[]>;
  /** Up to `limit` (1 to 10,000) templates of any partition that have no metadata MAC yet. */
  templatesWithoutMetadataMac(limit: number): Promise<StoredTemplate[]>;
  /**
   * Sets the metadata MAC of a template that has none, if it is still at `expectedVersion`
   * (no version or revision change: the metadata itself is unchanged). Returns whether it did.
   */
  setMetadataMac(bcid: Bcid, update: MetadataMacUpdate): Promise<boolean>;
}
