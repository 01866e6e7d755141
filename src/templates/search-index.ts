import type { Logger } from "pino";
import { isFacevaultError } from "../errors.js";
import type { PartitionChanges, TemplateStore } from "../store/template-store.js";
import type { TemplateVault } from "./template-vault.js";

/** How vectors of an encoder compare; the scan loop is specialised for each. */
export type VectorMetric = "euclidean" | "cosine";

export interface SearchIndexesOptions {
  store: Pick<TemplateStore, "partitionChanges">;
  vault: TemplateVault;
  /** Only templates of this encoder version are indexed and compared. */
  encoderVersion: number;
  /** Feature vector length of that encoder. */
  dimension: number;
  metric: VectorMetric;
  logger: Logger;
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
  /** Brings the index up to date with the store (one cheap query when nothing changed). */
  sync(): Promise<void>;
  /** Best matches first. Call `sync` before for an up-to-date answer. */
  search(query: SearchQuery): SearchMatch[];
  readonly size: number;
}

export interface SearchIndexes {
  /** The index of a partition, created (empty, loaded on first sync) when first asked for. */
  partition(storage: string, partition: number): PartitionIndex;
}

/**
 * Search indexes per partition: the decrypted compact templates (one vector per class) in one
 * contiguous Float32Array, scanned with a tight loop. Each sync asks the store for what
 * changed since the last revision seen, so writes by this process and by other processes
 * sharing the database show up in the next search.
 */
export function createSearchIndexes(options: SearchIndexesOptions): SearchIndexes {
  const indexes = new Map<string, PartitionIndex>();
  return {
    partition(storage, partition) {
      const key = `${storage}|${partition}`;
      let index = indexes.get(key);
      if (!index) {
        index = createPartitionIndex(options, storage, partition);
        indexes.set(key, index);
      }
      return index;
    },
  };
}

function createPartitionIndex(
  options: SearchIndexesOptions,
  storage: string,
  partition: number,
): PartitionIndex {
  const { dimension, metric } = options;
  const log = options.logger.child({ component: "search-index", storage, partition });
  let revision = 0;
  let classIds: bigint[] = [];
  let tags: ReadonlySet<string>[] = [];
  let vectors = new Float32Array(dimension * 64);
  let rowOf = new Map<bigint, number>();
  let syncing: Promise<void> | undefined;
  let nextSync: Promise<void> | undefined;

  function ensureCapacity(rows: number): void {
    if (rows * dimension <= vectors.length) return;
    const grown = new Float32Array(Math.max(rows, (vectors.length / dimension) * 2) * dimension);
    grown.set(vectors.subarray(0, classIds.length * dimension));
    vectors = grown;
  }

  function remove(classId: bigint): void {
    const row = rowOf.get(classId);
    if (row === undefined) return;
    const last = classIds.length - 1;
    if (row !== last) {
      // Move the last row into the gap so the rows stay contiguous.
      const moved = classIds[last] as bigint;
      classIds[row] = moved;
      tags[row] = tags[last] as ReadonlySet<string>;
      vectors.copyWithin(row * dimension, last * dimension, (last + 1) * dimension);
      rowOf.set(moved, row);
    }
    classIds.pop();
    tags.pop();
    rowOf.delete(classId);
  }

  function apply(changes: PartitionChanges): void {
    if (changes.full) {
      classIds = [];
      tags = [];
      rowOf = new Map();
    }
    for (const classId of changes.deletes) remove(classId);
    for (const entry of changes.upserts) {
      if (entry.encoderVersion !== options.encoderVersion) {
        remove(entry.classId); // an older template is not comparable until upgraded
        continue;
      }
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
        remove(entry.classId);
        continue;
      }
      if (vector.length !== dimension) {
        log.error({ classId: String(entry.classId) }, "compact template has a wrong dimension");
        remove(entry.classId);
        continue;
      }
      let row = rowOf.get(entry.classId);
      if (row === undefined) {
        row = classIds.length;
        ensureCapacity(row + 1);
        classIds.push(entry.classId);
        tags.push(new Set());
        rowOf.set(entry.classId, row);
      }
      tags[row] = new Set(entry.tags);
      vectors.set(metric === "cosine" ? normalized(vector) : vector, row * dimension);
    }
    revision = changes.revision;
  }

  async function syncOnce(): Promise<void> {
    apply(await options.store.partitionChanges(storage, partition, revision));
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

  return {
    get size() {
      return classIds.length;
    },
    sync,
    search(query) {
      const probe = metric === "cosine" ? normalized(query.probe) : query.probe;
      return scan(vectors, classIds, tags, dimension, metric, probe, query);
    },
  };
}

/**
 * Squared L2 distance of row `offset` to `probe`, with four accumulators (about twice as fast
 * in V8 as one) and an early exit once past `cutoff`, checked every 16 values.
 */
function squaredDistance(
  v: Float32Array,
  offset: number,
  p: Float32Array,
  dim: number,
  cutoff: number,
): number {
  let sum = 0;
  let j = 0;
  for (; j + 16 <= dim; j += 16) {
    let a = 0;
    let b = 0;
    let c = 0;
    let e = 0;
    for (let k = j; k < j + 16; k += 4) {
      const x0 = (v[offset + k] as number) - (p[k] as number);
      const x1 = (v[offset + k + 1] as number) - (p[k + 1] as number);
      const x2 = (v[offset + k + 2] as number) - (p[k + 2] as number);
      const x3 = (v[offset + k + 3] as number) - (p[k + 3] as number);
      a += x0 * x0;
      b += x1 * x1;
      c += x2 * x2;
      e += x3 * x3;
    }
    sum += a + b + c + e;
    if (sum > cutoff) return sum;
  }
  for (; j < dim; j++) {
    const x = (v[offset + j] as number) - (p[j] as number);
    sum += x * x;
  }
  return sum;
}

/** Dot product of row `offset` with `probe`, four accumulators. */
function dot(v: Float32Array, offset: number, p: Float32Array, dim: number): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let e = 0;
  let j = 0;
  for (; j + 4 <= dim; j += 4) {
    a += (v[offset + j] as number) * (p[j] as number);
    b += (v[offset + j + 1] as number) * (p[j + 1] as number);
    c += (v[offset + j + 2] as number) * (p[j + 2] as number);
    e += (v[offset + j + 3] as number) * (p[j + 3] as number);
  }
  for (; j < dim; j++) a += (v[offset + j] as number) * (p[j] as number);
  return a + b + c + e;
}

function normalized(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += (v[i] as number) * (v[i] as number);
  const norm = Math.sqrt(sum) || 1;
  return v.map((x) => x / norm);
}

/**
 * Scans all rows, keeping the best `limit` matches within `maxDistance`. For Euclidean
 * distance the inner loop compares squared distances and stops a row as soon as it is
 * already worse than the current cut-off.
 */
function scan(
  vectors: Float32Array,
  classIds: readonly bigint[],
  tags: readonly ReadonlySet<string>[],
  dim: number,
  metric: VectorMetric,
  probe: Float32Array,
  query: SearchQuery,
): SearchMatch[] {
  const rows = classIds.length;
  const required = query.tags;
  const best: { row: number; d: number }[] = []; // sorted ascending by d, at most `limit`
  const euclid = metric === "euclidean";
  const limitCut = (d: number) => (euclid ? d * d : d);
  let cutoff = limitCut(query.maxDistance);

  for (let row = 0; row < rows; row++) {
    if (required.length > 0) {
      const have = tags[row] as ReadonlySet<string>;
      if (!required.every((t) => have.has(t))) continue;
    }
    const offset = row * dim;
    const d = euclid
      ? squaredDistance(vectors, offset, probe, dim, cutoff)
      : 1 - dot(vectors, offset, probe, dim);
    if (d > cutoff) continue;
    let at = best.length;
    while (at > 0 && (best[at - 1] as { d: number }).d > d) at--;
    best.splice(at, 0, { row, d });
    if (best.length > query.limit) best.pop();
    if (best.length === query.limit)
      cutoff = Math.min(cutoff, (best[best.length - 1] as { d: number }).d);
  }
  return best.map(({ row, d }) => ({
    classId: classIds[row] as bigint,
    distance: euclid ? Math.sqrt(d) : d,
  }));
}
