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
  /** Per slot the key's unsigned 32-bit halves, low then high: no bigint is kept. */
  let keys = new Uint32Array(2 * capacity);
  let rows = new Int32Array(capacity).fill(EMPTY);
  let size = 0;

  const low = (classId: bigint) => Number(BigInt.asUintN(32, classId));
  const high = (classId: bigint) => Number(BigInt.asUintN(32, classId >> 32n));

  function slotOf(lo: number, hi: number): number {
    // Class ids are often sequential: mix both halves before masking.
    return (Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b) >>> 0) & (capacity - 1);
  }

  /** The slot holding the key, or the empty slot where it would go. */
  function find(lo: number, hi: number): number {
    let i = slotOf(lo, hi);
    while (rows[i] !== EMPTY && (keys[2 * i] !== lo || keys[2 * i + 1] !== hi)) {
      i = (i + 1) & (capacity - 1);
    }
    return i;
  }

  /** Maps the key to `row`, growing first when the table would be more than half full. */
  function put(lo: number, hi: number, row: number): void {
    let at = find(lo, hi);
    if (rows[at] === EMPTY) {
      if ((size + 1) * 2 > capacity) {
        grow();
        at = find(lo, hi);
      }
      size++;
      keys[2 * at] = lo;
      keys[2 * at + 1] = hi;
    }
    rows[at] = row;
  }

  function grow(): void {
    const oldKeys = keys;
    const oldRows = rows;
    capacity *= 2;
    keys = new Uint32Array(2 * capacity);
    rows = new Int32Array(capacity).fill(EMPTY);
    for (let i = 0; i < oldRows.length; i++) {
      if (oldRows[i] === EMPTY) continue;
      const lo = oldKeys[2 * i] as number;
      const hi = oldKeys[2 * i + 1] as number;
      const at = find(lo, hi);
      keys[2 * at] = lo;
      keys[2 * at + 1] = hi;
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
      const at = find(low(classId), high(classId));
      return rows[at] === EMPTY ? undefined : rows[at];
    },
    set(classId, row) {
      put(low(classId), high(classId), row);
    },
    setRows(classIds, firstRow) {
      // The ids' own halves (little-endian hosts); copied when the view is not 4-byte aligned.
      const ids = new Uint32Array(
        classIds.byteOffset % 4 === 0 ? classIds.buffer : classIds.slice().buffer,
        classIds.byteOffset % 4 === 0 ? classIds.byteOffset : 0,
        classIds.length * 2,
      );
      for (let i = 0; i < classIds.length; i++) {
        put(ids[2 * i] as number, ids[2 * i + 1] as number, firstRow + i);
      }
    },
    delete(classId) {
      let at = find(low(classId), high(classId));
      if (rows[at] === EMPTY) return false;
      rows[at] = EMPTY;
      size--;
      // Move back every later entry of the run whose home slot is not between the hole and it.
      let next = (at + 1) & (capacity - 1);
      while (rows[next] !== EMPTY) {
        const home = slotOf(keys[2 * next] as number, keys[2 * next + 1] as number);
        const wraps = (next - home + capacity) & (capacity - 1);
        const gap = (next - at + capacity) & (capacity - 1);
        if (wraps >= gap) {
          keys[2 * at] = keys[2 * next] as number;
          keys[2 * at + 1] = keys[2 * next + 1] as number;
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
      keys = new Uint32Array(2 * capacity);
      rows = new Int32Array(capacity).fill(EMPTY);
      size = 0;
    },
  };
}
