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
  delete(classId: bigint): boolean;
  clear(): void;
}

const EMPTY = -1;
const MIN_CAPACITY = 64;

/** Creates an empty table; see {@link ClassIdTable}. */
export function createClassIdTable(): ClassIdTable {
  let capacity = MIN_CAPACITY; // a power of two
  let keys = new BigInt64Array(capacity);
  let rows = new Int32Array(capacity).fill(EMPTY);
  let size = 0;

  function slotOf(classId: bigint): number {
    // Class ids are often sequential: mix both halves before masking.
    const lo = Number(BigInt.asUintN(32, classId));
    const hi = Number(BigInt.asUintN(32, classId >> 32n));
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
      rows = new Int32Array(capacity).fill(EMPTY);
      size = 0;
    },
  };
}
