/**
 * Class id -> row index, open addressing with linear probing over typed arrays: about 24 bytes a
 * class at the lowest load, where a Map<bigint, number> costs several times that (a heap bigint
 * per key plus the entry). Deletion shifts the following entries back (no tombstones).
 */
export interface ClassIdTable {
  readonly size: number;
  /** Bytes of the two arrays. */
  readonly bytes: number;
  get(classId: bigint): number | undefined;
  set(classId: bigint, row: number): void;
  /**
   * `set(classIds[i], firstRow + i)` for every i, without a bigint per key: loading a partition
   * maps a million ids at once.
   */
  setRows(classIds: BigInt64Array, firstRow: number): void;
  delete(classId: bigint): boolean;
  clear(): void;
}

const EMPTY = -1;
const MIN_CAPACITY = 64;

/** Creates an empty table; see {@link ClassIdTable}. */
export function createClassIdTable(): ClassIdTable {
  let capacity = MIN_CAPACITY; // a power of two
  let keys = new BigInt64Array(capacity);
  /** `keys` as little-endian 32-bit halves (low, high), read by `setRows`. */
  let halves = new Uint32Array(keys.buffer);
  let rows = new Int32Array(capacity).fill(EMPTY);
  let size = 0;

  function slotOf(classId: bigint): number {
    return slotOfHalves(
      Number(BigInt.asUintN(32, classId)),
      Number(BigInt.asUintN(32, classId >> 32n)),
    );
  }

  function slotOfHalves(lo: number, hi: number): number {
    // Class ids are often sequential: mix both halves before masking.
    return (Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b) >>> 0) & (capacity - 1);
  }

  function find(classId: bigint): number {
    let i = slotOf(classId);
    while (rows[i] !== EMPTY && keys[i] !== classId) i = (i + 1) & (capacity - 1);
    return i;
  }

  function grow(): void {
    const oldKeys = keys;
    const oldRows = rows;
    capacity *= 2;
    keys = new BigInt64Array(capacity);
    halves = new Uint32Array(keys.buffer);
    rows = new Int32Array(capacity).fill(EMPTY);
    for (let i = 0; i < oldRows.length; i++) {
      if (oldRows[i] === EMPTY) continue;
      const at = find(oldKeys[i] as bigint);
      keys[at] = oldKeys[i] as bigint;
      rows[at] = oldRows[i] as number;
    }
  }

  return {
    get size() {
      return size;
    },
    get bytes() {
      return keys.byteLength + rows.byteLength;
    },
    get(classId) {
      const at = find(classId);
      return rows[at] === EMPTY ? undefined : rows[at];
    },
    set(classId, row) {
      let at = find(classId);
      if (rows[at] === EMPTY) {
        if ((size + 1) * 2 > capacity) {
          grow();
          at = find(classId);
        }
        size++;
        keys[at] = classId;
      }
      rows[at] = row;
    },
    setRows(classIds, firstRow) {
      while ((size + classIds.length) * 2 > capacity) grow();
      // Copied when unaligned: a Uint32Array view needs a 4-byte offset (little-endian hosts).
      const ids = new Uint32Array(
        classIds.byteOffset % 4 === 0 ? classIds.buffer : classIds.slice().buffer,
        classIds.byteOffset % 4 === 0 ? classIds.byteOffset : 0,
        classIds.length * 2,
      );
      for (let i = 0; i < classIds.length; i++) {
        const lo = ids[2 * i] as number;
        const hi = ids[2 * i + 1] as number;
        let at = slotOfHalves(lo, hi);
        while (rows[at] !== EMPTY && (halves[2 * at] !== lo || halves[2 * at + 1] !== hi)) {
          at = (at + 1) & (capacity - 1);
        }
        if (rows[at] === EMPTY) {
          size++;
          halves[2 * at] = lo;
          halves[2 * at + 1] = hi;
        }
        rows[at] = firstRow + i;
      }
    },
    delete(classId) {
      let at = find(classId);
      if (rows[at] === EMPTY) return false;
      rows[at] = EMPTY;
      size--;
      // Move back every later entry of the run whose home slot is not between the hole and it.
      let next = (at + 1) & (capacity - 1);
      while (rows[next] !== EMPTY) {
        const home = slotOf(keys[next] as bigint);
        const wraps = (next - home + capacity) & (capacity - 1);
        const gap = (next - at + capacity) & (capacity - 1);
        if (wraps >= gap) {
          keys[at] = keys[next] as bigint;
          rows[at] = rows[next] as number;
          rows[next] = EMPTY;
          at = next;
        }
        next = (next + 1) & (capacity - 1);
      }
      return true;
    },
    clear() {
      capacity = MIN_CAPACITY;
      keys = new BigInt64Array(capacity);
      halves = new Uint32Array(keys.buffer);
      rows = new Int32Array(capacity).fill(EMPTY);
      size = 0;
    },
  };
}
