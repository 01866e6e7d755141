import type { Logger } from "pino";
import { FacevaultError, isFacevaultError } from "../errors.js";
import { cosineDistance, euclideanDistance, type VectorMetric } from "../face/encoders.js";
import {
  type CompactEntry,
  MAX_COMPACT_BATCH,
  type PartitionChanges,
  type SnapshotChunkWrite,
  type TemplateStore,
} from "../store/template-store.js";
import { createClassIdTable } from "./class-id-table.js";
import { compileScanKernel, createQuantizedRows, type QuantizedRows } from "./quantized-rows.js";
import type { ScanThreads } from "./scan-threads.js";
import { decodeSnapshotChunk, encodeSnapshotChunk, snapshotFormat } from "./search-snapshot.js";
import type { TemplateVault } from "./template-vault.js";
import {
  minimumGain,
  paddedDimension,
  quantizeProbe,
  quantizeRow,
  type RowCode,
  sameRowCode,
} from "./vector-quantizer.js";

/** How vectors of an encoder compare (the encoders' own type). */
export type { VectorMetric } from "../face/encoders.js";

/** Default templates read per store round trip while loading a partition. */
export const DEFAULT_LOAD_PAGE_SIZE = 2048;
/** Work done between two yields to the event loop while loading or applying changes (ms). */
const YIELD_EVERY_MS = 10;
/** Scans of one search before it gives up on a partition whose templates keep changing. */
const MAX_SEARCH_ATTEMPTS = 4;
/** Default smallest partition that keeps a search snapshot. */
export const DEFAULT_SNAPSHOT_MIN_TEMPLATES = 10_000;
/** Default rows per snapshot chunk: about 1 MB at 512-D, decoded without yielding. */
export const DEFAULT_SNAPSHOT_CHUNK_ROWS = 2048;

export interface SearchIndexesOptions {
  store: Pick<
    TemplateStore,
    | "partitionChanges"
    | "compactPage"
    | "compactTemplates"
    | "putSearchSnapshot"
    | "searchSnapshot"
    | "searchSnapshotChunk"
  >;
  vault: TemplateVault;
  /** Only templates of this encoder version are indexed and compared. */
  encoderVersion: number;
  /** Feature vector length of that encoder (at most 2048). */
  dimension: number;
  metric: VectorMetric;
  logger: Logger;
  /** Templates read per store round trip while loading a partition, 1 to 10,000. Default 2048. */
  loadPageSize?: number;
  /**
   * Partitions of at least this many templates keep a search snapshot in the store (sealed
   * chunks of the index), written after a load that could not use one: the next process loads
   * them with one decryption per chunk instead of one per template. Default 10,000.
   */
  snapshotMinTemplates?: number;
  /**
   * Rows per snapshot chunk, 1 to 65,536: a delete clears one chunk, which the next load reads
   * from the templates. Default 2048.
   */
  snapshotChunkRows?: number;
  /** Threads that take shares of large scans; none: every scan runs on the event loop's thread. */
  scanThreads?: ScanThreads;
  /** Told after every search (metrics, benchmarks): rows re-ranked exactly, scans made. */
  onSearch?: (stats: SearchStats) => void;
  /** Told after every load of a partition (metrics): what it holds, where it came from. */
  onLoad?: (stats: LoadStats) => void;
}

/** What one load of a partition's index found and cost. */
export interface LoadStats {
  storage: string;
  partition: number;
  /** Templates the index holds after the load. */
  templates: number;
  /**
   * True when the rows came from the search snapshot (and the changes since), false when every
   * template was opened.
   */
  fromSnapshot: boolean;
  /** Milliseconds from the first read to the index answering searches. */
  ms: number;
}

/** What one search cost. */
export interface SearchStats {
  storage: string;
  partition: number;
  /** Rows the scan could not rule out, read from the store and ranked exactly (all attempts). */
  candidates: number;
  /** Scans made: more than 1 when candidates changed under the search. */
  attempts: number;
  /** Milliseconds in the scans (the kernel and the bound), without the store and the re-rank. */
  scanMs: number;
  /** Milliseconds of the whole search: scans, reading and ranking the candidates. */
  totalMs: number;
  /** Templates the partition's index holds. */
  templates: number;
}

export interface SearchQuery {
  probe: Float32Array;
  /** A template must carry all of these tags. */
  tags: readonly string[];
  /** Only matches at or below this distance. Infinity for "whatever the threshold". */
  maxDistance: number;
  /** Most matches returned. */
  limit: number;
}

export interface SearchMatch {
  classId: bigint;
  distance: number;
}

/** In-memory compact templates of one partition, kept in step with the store. */
export interface PartitionIndex {
  /**
   * Brings the index up to date with the store: the first call loads the partition page by page
   * (yielding to the event loop), later calls read only what changed (one cheap query when
   * nothing did).
   */
  sync(): Promise<void>;
  /**
   * The exact best matches, best first (ties by class id): the distances of the encoder's
   * metric computed in float64 on the stored float32 vectors. Call `sync` before for an
   * up-to-date answer. Reads the few candidate templates from the store to rank them exactly.
   * @throws FacevaultError `aborted` when the candidates kept changing under the search.
   */
  search(query: SearchQuery): Promise<SearchMatch[]>;
  readonly size: number;
  /**
   * Templates of the partition made by another encoder version: not comparable with this
   * encoder's probes, so left out of every search until re-encoded (`facevault reencode`).
   */
  readonly notComparable: number;
  /** Bytes the index holds for this partition (codes, bound numbers, class ids, lookup). */
  readonly residentBytes: number;
}

export interface SearchIndexes {
  /** The index of a partition, created (empty, loaded on first sync) when first asked for. */
  partition(storage: string, partition: number): PartitionIndex;
}

/**
 * Search indexes per partition. Each holds every compact template of the partition as int8
 * codes in WebAssembly memory (about the dimension in bytes plus 40 per template), scanned with
 * a SIMD kernel that bounds how far each code's score can be from the exact one; only the rows
 * that may belong to the answer are read from the store, opened and ranked exactly. Each sync
 * asks the store for what changed since the last revision seen, so writes by this process and
 * by other processes sharing the database show up in the next search.
 */
export function createSearchIndexes(options: SearchIndexesOptions): SearchIndexes {
  const kernel = compileScanKernel();
  const indexes = new Map<string, PartitionIndex>();
  return {
    partition(storage, partition) {
      const key = `${storage}|${partition}`;
      let index = indexes.get(key);
      if (!index) {
        index = createPartitionIndex(options, kernel, storage, partition);
        indexes.set(key, index);
      }
      return index;
    },
  };
}

/** The rows of a partition; a full reload builds a new one and swaps it in whole. */
interface Rows {
  codes: QuantizedRows;
  classIds: BigInt64Array;
  rowOf: ReturnType<typeof createClassIdTable>;
}

function createPartitionIndex(
  options: SearchIndexesOptions,
  kernel: WebAssembly.Module,
  storage: string,
  partition: number,
): PartitionIndex {
  const { dimension, metric, store } = options;
  const pageSize = options.loadPageSize ?? DEFAULT_LOAD_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_COMPACT_BATCH) {
    throw new FacevaultError(
      "invalid_argument",
      `loadPageSize must be an integer in [1, ${MAX_COMPACT_BATCH}]`,
    );
  }
  const log = options.logger.child({ component: "search-index", storage, partition });
  const snapshotMin = options.snapshotMinTemplates ?? DEFAULT_SNAPSHOT_MIN_TEMPLATES;
  const chunkRows = options.snapshotChunkRows ?? DEFAULT_SNAPSHOT_CHUNK_ROWS;
  if (!Number.isInteger(chunkRows) || chunkRows < 1 || chunkRows > 65_536) {
    throw new FacevaultError(
      "invalid_argument",
      "snapshotChunkRows must be an integer in [1, 65536]",
    );
  }
  const format = snapshotFormat(paddedDimension(dimension), metric, options.encoderVersion);
  /** Bumped on every change of the rows, so a snapshot being built can tell it went stale. */
  let mutations = 0;
  const measure = metric === "cosine" ? cosineDistance : euclideanDistance;
  let revision = 0;
  let loaded = false;
  /**
   * Rows changed, or read from the templates, since the snapshot in the store was made: all of
   * them after a load without one. A new snapshot is due when this passes a tenth of the rows.
   */
  let sinceSnapshot = 0;
  let rows = emptyRows();
  /** Class ids of templates of another encoder, left out of the rows (see `notComparable`). */
  let otherEncoder = new Set<bigint>();
  // Distinct tag lists, shared by every template that carries the same one.
  const tagSetIds = new Map<string, number>();
  const tagSets: ReadonlySet<string>[] = [];
  let syncing: Promise<void> | undefined;
  let nextSync: Promise<void> | undefined;

  function emptyRows(): Rows {
    return {
      codes: createQuantizedRows(kernel, {
        dimension,
        metric,
        ...(options.scanThreads ? { scanThreads: options.scanThreads } : {}),
      }),
      classIds: new BigInt64Array(64),
      rowOf: createClassIdTable(),
    };
  }

  function tagSetOf(tags: readonly string[]): number {
    const unique = [...new Set(tags)].sort();
    const key = JSON.stringify(unique);
    let id = tagSetIds.get(key);
    if (id === undefined) {
      id = tagSets.length;
      tagSets.push(new Set(unique));
      tagSetIds.set(key, id);
    }
    return id;
  }

  /** The row code of a stored compact template, or undefined (logged) when it is unusable. */
  function codeOf(entry: CompactEntry): RowCode | undefined {
    if (entry.encoderVersion !== options.encoderVersion) return undefined;
    const vector = openVector(entry);
    return vector === undefined ? undefined : quantizeRow(vector, metric);
  }

  function openVector(entry: CompactEntry): Float32Array | undefined {
    let vector: Float32Array;
    try {
      vector = options.vault.openCompact(
        { storage, partition, classId: entry.classId },
        entry.compact,
      ).vector;
    } catch (err) {
      if (!isFacevaultError(err, "data_loss")) throw err;
      // Never match against a template that fails authentication; the others still work.
      log.error({ classId: String(entry.classId) }, "compact template failed authentication");
      return undefined;
    }
    if (vector.length !== dimension) {
      log.error({ classId: String(entry.classId) }, "compact template has a wrong dimension");
      return undefined;
    }
    return vector;
  }

  function upsert(target: Rows, classId: bigint, code: RowCode, tagSet: number): void {
    mutations++;
    const row = target.rowOf.get(classId);
    if (row !== undefined) {
      target.codes.set(row, code, tagSet);
      return;
    }
    const at = target.codes.size;
    target.codes.append(code, tagSet);
    if (at >= target.classIds.length) {
      const grown = new BigInt64Array(target.classIds.length * 2);
      grown.set(target.classIds);
      target.classIds = grown;
    }
    target.classIds[at] = classId;
    target.rowOf.set(classId, at);
  }

  function remove(target: Rows, classId: bigint): void {
    const row = target.rowOf.get(classId);
    if (row === undefined) return;
    mutations++;
    const last = target.codes.size - 1;
    if (row !== last) {
      // The last row moves into the gap so that the rows stay dense.
      const moved = target.classIds[last] as bigint;
      target.classIds[row] = moved;
      target.rowOf.set(moved, row);
    }
    target.codes.removeSwap(row);
    target.rowOf.delete(classId);
  }

  /** Opens and indexes entries, yielding to the event loop every few milliseconds. */
  async function applyUpserts(
    target: Rows,
    entries: readonly CompactEntry[],
    others: Set<bigint>,
  ): Promise<void> {
    let slice = performance.now();
    for (const entry of entries) {
      if (entry.encoderVersion === options.encoderVersion) others.delete(entry.classId);
      else others.add(entry.classId);
      const code = codeOf(entry);
      // An older encoder's template is not comparable until upgraded; a broken one never is.
      if (code === undefined) remove(target, entry.classId);
      else upsert(target, entry.classId, code, tagSetOf(entry.tags));
      if (performance.now() - slice > YIELD_EVERY_MS) {
        await yieldToEventLoop();
        slice = performance.now();
      }
    }
  }

  async function apply(changes: PartitionChanges): Promise<void> {
    if (changes.full) {
      // Built apart and swapped in whole: a search meanwhile still sees the previous rows.
      const fresh = emptyRows();
      const others = new Set<bigint>();
      await applyUpserts(fresh, changes.upserts, others);
      rows = fresh;
      otherEncoder = others;
    } else {
      for (const classId of changes.deletes) {
        remove(rows, classId);
        otherEncoder.delete(classId);
      }
      await applyUpserts(rows, changes.upserts, otherEncoder);
    }
    revision = changes.revision;
  }

  /** Reads the whole partition page by page, then catches up from the first page's revision. */
  async function loadPages(): Promise<void> {
    const fresh = emptyRows();
    const others = new Set<bigint>();
    let after = 0n;
    let first: number | undefined;
    for (;;) {
      const page = await store.compactPage(storage, partition, after, pageSize);
      first ??= page.revision;
      await applyUpserts(fresh, page.entries, others);
      const last = page.entries.at(-1);
      if (last === undefined || page.entries.length < pageSize) break;
      after = last.classId;
      await yieldToEventLoop();
    }
    // Pages after the first may hold newer rows; what changed since the first page's snapshot
    // (including rows the pages missed or deletions) comes with the catch-up.
    const changes = await store.partitionChanges(storage, partition, first ?? 0);
    rows = fresh;
    otherEncoder = others;
    await apply(changes);
  }

  /**
   * Reads the templates with class ids in [first, last] into `target`, page by page: the rows
   * of a snapshot chunk a delete cleared. Returns how many were read.
   */
  async function loadRange(
    target: Rows,
    others: Set<bigint>,
    first: bigint,
    last: bigint,
  ): Promise<number> {
    let after = first - 1n;
    let read = 0;
    for (;;) {
      const page = await store.compactPage(storage, partition, after, pageSize, last);
      await applyUpserts(target, page.entries, others);
      read += page.entries.length;
      const end = page.entries.at(-1);
      if (end === undefined || page.entries.length < pageSize) return read;
      after = end.classId;
    }
  }

  /**
   * Loads the stored search snapshot and catches up from its revision; the ranges of chunks a
   * delete cleared come from the templates. False (nothing changed) when there is none of this
   * format, it went away meanwhile, a chunk fails authentication, or tombstones were pruned
   * past it.
   */
  async function loadSnapshot(): Promise<boolean> {
    const info = await store.searchSnapshot(storage, partition);
    if (info === undefined || info.format !== format) return false;
    const fresh = emptyRows();
    const others = new Set<bigint>();
    let reloaded = 0;
    for (let chunk = 0; chunk < info.chunks; chunk++) {
      const at = { storage, partition, revision: info.revision, chunk, chunks: info.chunks };
      const stored = await store.searchSnapshotChunk(storage, partition, info.id, chunk);
      if (stored === undefined) return false; // replaced while reading
      if (stored.bytes === undefined) {
        reloaded += await loadRange(fresh, others, stored.firstClassId, stored.lastClassId);
        continue;
      }
      let decoded: ReturnType<typeof decodeSnapshotChunk>;
      try {
        decoded = decodeSnapshotChunk(
          options.vault.openSnapshotChunk(at, stored.bytes),
          paddedDimension(dimension),
        );
      } catch (err) {
        if (!isFacevaultError(err, "data_loss")) throw err;
        log.error({ chunk }, "search snapshot chunk failed authentication; loading templates");
        return false;
      }
      const from = fresh.codes.size;
      fresh.codes.appendRows(
        decoded.batch,
        Int32Array.from(decoded.tagSets, (t) => tagSetOf(t)),
      );
      if (fresh.classIds.length < fresh.codes.size) {
        const grown = new BigInt64Array(Math.max(fresh.codes.size, fresh.classIds.length * 2));
        grown.set(fresh.classIds);
        fresh.classIds = grown;
      }
      fresh.classIds.set(decoded.classIds, from);
      fresh.rowOf.setRows(decoded.classIds, from);
      await yieldToEventLoop();
    }
    const changes = await store.partitionChanges(storage, partition, info.revision);
    if (changes.full) return false;
    rows = fresh;
    // The chunks hold only comparable rows (snapshots are written only while no template of
    // another encoder is left out, see writeSnapshotIfDue); the reloaded ranges may hold some.
    otherEncoder = others;
    await apply(changes);
    sinceSnapshot = reloaded + changes.upserts.length + changes.deletes.length;
    return true;
  }

  /**
   * Seals the rows into snapshot chunks of consecutive class ids and hands them to the store;
   * false when abandoned. Runs inside the sync, so no change is applied meanwhile; a row dropped
   * by a search meanwhile abandons it.
   */
  async function writeSnapshot(): Promise<boolean> {
    const at = revision;
    const before = mutations;
    const size = rows.codes.size;
    // Class id order: a chunk covers one range of ids, so a delete clears one chunk.
    const sortedIds = rows.classIds.slice(0, size).sort();
    const chunks: SnapshotChunkWrite[] = [];
    const count = Math.ceil(size / chunkRows);
    for (let chunk = 0; chunk < count; chunk++) {
      const classIds = sortedIds.subarray(
        chunk * chunkRows,
        Math.min(size, (chunk + 1) * chunkRows),
      );
      const rowsOfChunk = Int32Array.from(classIds, (id) => rows.rowOf.get(id) as number);
      // The chunk's own tag table, so that it can be read without the others.
      const localIds = new Map<number, number>();
      const chunkTagSets: string[][] = [];
      const tagSetIds = Int32Array.from(rowsOfChunk, (row) => {
        const global = rows.codes.tagSetOf(row);
        let local = localIds.get(global);
        if (local === undefined) {
          local = chunkTagSets.length;
          chunkTagSets.push([...(tagSets[global] as ReadonlySet<string>)]);
          localIds.set(global, local);
        }
        return local;
      });
      const plain = encodeSnapshotChunk({
        classIds,
        batch: rows.codes.exportRows(rowsOfChunk, tagSetIds),
        tagSets: chunkTagSets,
      });
      chunks.push({
        firstClassId: classIds[0] as bigint,
        lastClassId: classIds[classIds.length - 1] as bigint,
        bytes: options.vault.sealSnapshotChunk(
          { storage, partition, revision: at, chunk, chunks: count },
          plain,
        ),
      });
      await yieldToEventLoop();
      if (mutations !== before) return false;
    }
    // Stored after the sync has let go: the searches waiting for it need not wait for the store.
    void store
      .putSearchSnapshot(storage, partition, { revision: at, format, chunks })
      .then((stored) => log.info({ templates: size, revision: at, stored }, "search snapshot"))
      .catch((err: unknown) => log.warn({ err }, "search snapshot not stored"));
    return true;
  }

  /**
   * Writes a snapshot when one is due: the partition has at least `snapshotMinTemplates` rows
   * and more than a tenth of them (at least `snapshotMinTemplates`) changed or were read from
   * the templates since the stored one was made. While serving (`afterLoad` false) it first
   * asks the store, so that replicas sharing it do not each write one for the same changes.
   */
  async function writeSnapshotIfDue(afterLoad: boolean): Promise<void> {
    const size = rows.codes.size;
    const due = Math.max(snapshotMin, size / 10);
    // A snapshot holds only comparable rows: while other encoders' templates wait for
    // `reencode`, none is written, so that a load from it never forgets them.
    if (size < snapshotMin || sinceSnapshot < due || otherEncoder.size > 0) return;
    if (!afterLoad) {
      const stored = await store.searchSnapshot(storage, partition);
      // The revision counts every write, so it bounds the rows changed since from above.
      if (stored?.format === format && revision - stored.revision < due) {
        sinceSnapshot = revision - stored.revision;
        return;
      }
    }
    if (await writeSnapshot()) sinceSnapshot = 0;
  }

  /** Loads the partition: from its snapshot when there is a usable one, else page by page. */
  async function load(): Promise<void> {
    const started = performance.now();
    const fromSnapshot = await loadSnapshot();
    if (!fromSnapshot) {
      await loadPages();
      sinceSnapshot = rows.codes.size;
    }
    loaded = true;
    const ms = Math.round(performance.now() - started);
    log.info({ templates: rows.codes.size, fromSnapshot, ms }, "search index loaded");
    options.onLoad?.({ storage, partition, templates: rows.codes.size, fromSnapshot, ms });
    await writeSnapshotIfDue(true);
  }

  async function syncOnce(): Promise<void> {
    if (!loaded) {
      await load();
      return;
    }
    const changes = await store.partitionChanges(storage, partition, revision);
    await apply(changes);
    sinceSnapshot += changes.full
      ? rows.codes.size
      : changes.upserts.length + changes.deletes.length;
    await writeSnapshotIfDue(false);
  }

  function sync(): Promise<void> {
    if (!syncing) {
      syncing = syncOnce().finally(() => {
        syncing = undefined;
      });
      return syncing;
    }
    // A sync already running may have read the store before a write this caller has seen
    // acknowledged; wait for one that starts after it. Waiting callers share that one.
    nextSync ??= syncing
      .catch(() => {})
      .then(() => {
        nextSync = undefined;
        return sync();
      });
    return nextSync;
  }

  function allowedTagSets(required: readonly string[]): Uint8Array {
    const allowed = new Uint8Array(tagSets.length);
    tagSets.forEach((have, id) => {
      allowed[id] = required.every((t) => have.has(t)) ? 1 : 0;
    });
    return allowed;
  }

  async function fetchCompacts(classIds: readonly bigint[]): Promise<Map<bigint, CompactEntry>> {
    const found = new Map<bigint, CompactEntry>();
    for (let i = 0; i < classIds.length; i += MAX_COMPACT_BATCH) {
      const batch = classIds.slice(i, i + MAX_COMPACT_BATCH);
      for (const entry of await store.compactTemplates(storage, partition, batch)) {
        found.set(entry.classId, entry);
      }
    }
    return found;
  }

  async function search(query: SearchQuery): Promise<SearchMatch[]> {
    const { probe, maxDistance, limit } = query;
    if (probe.length !== dimension) {
      throw new FacevaultError(
        "invalid_argument",
        `probe of length ${probe.length}, expected ${dimension}`,
      );
    }
    if (!(limit >= 1) || !(maxDistance >= 0)) return [];
    const probeCode = quantizeProbe(probe, metric);
    const minGain = minimumGain(maxDistance, probe, metric);
    let exact = 0;
    let scanMs = 0;
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      const scanned = rows;
      const allowed = query.tags.length > 0 ? allowedTagSets(query.tags) : undefined;
      if (allowed?.every((a) => a === 0)) return [];
      const scanStart = performance.now();
      const candidates = scanned.codes.scan(probeCode, {
        ...(allowed ? { allowedTagSets: allowed } : {}),
        minGain,
        limit,
      });
      scanMs += performance.now() - scanStart;
      // What the exact step checks against, taken now: the rows may move while the store reads.
      const expected = candidates.map((c) => ({
        classId: scanned.classIds[c.row] as bigint,
        code: scanned.codes.codeOf(c.row),
      }));
      exact += expected.length;
      const stored = await fetchCompacts(expected.map((e) => e.classId));
      const matches: SearchMatch[] = [];
      const stale: { classId: bigint; code: RowCode }[] = [];
      for (const { classId, code } of expected) {
        const entry = stored.get(classId);
        const vector =
          entry?.encoderVersion === options.encoderVersion ? openVector(entry) : undefined;
        // The bound holds only for the vector the codes were made from.
        if (vector === undefined || !sameRowCode(quantizeRow(vector, metric), code)) {
          stale.push({ classId, code });
          continue;
        }
        const distance = measure(vector, probe);
        if (distance <= maxDistance) matches.push({ classId, distance });
      }
      if (stale.length === 0) {
        options.onSearch?.({
          storage,
          partition,
          candidates: exact,
          attempts: attempt,
          scanMs,
          totalMs: performance.now() - started,
          templates: rows.codes.size,
        });
        return matches
          .sort((a, b) =>
            a.distance !== b.distance ? a.distance - b.distance : a.classId < b.classId ? -1 : 1,
          )
          .slice(0, limit);
      }
      if (attempt >= MAX_SEARCH_ATTEMPTS) {
        throw new FacevaultError(
          "aborted",
          "the templates of this partition changed during the search; retry",
        );
      }
      // Written after the last sync: catch up and scan again.
      await sync();
      for (const { classId, code } of stale) {
        const row = rows.rowOf.get(classId);
        if (row !== undefined && sameRowCode(rows.codes.codeOf(row), code)) {
          // The store holds another vector (or none, or a broken one) at the same revision: a
          // restored or damaged row. Leave it out until it is written again.
          log.error(
            { classId: String(classId) },
            "stored compact template differs from its revision",
          );
          remove(rows, classId);
        }
      }
    }
  }

  return {
    get size() {
      return rows.codes.size;
    },
    get notComparable() {
      return otherEncoder.size;
    },
    get residentBytes() {
      return rows.codes.memoryBytes + rows.classIds.byteLength + rows.rowOf.bytes;
    },
    sync,
    search,
  };
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
