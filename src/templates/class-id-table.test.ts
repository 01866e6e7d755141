import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../test/support/search-reference.js";
import { createClassIdTable } from "./class-id-table.js";

describe("class id table", () => {
  it("agrees with a Map through random sets, overwrites and deletes, across growth", () => {
    const random = mulberry32(3);
    const table = createClassIdTable();
    const reference = new Map<bigint, number>();
    // Few distinct keys, many collisions: sequential ids, ids near 2^63 and sparse ones.
    const keys = [
      ...Array.from({ length: 300 }, (_, i) => BigInt(i + 1)),
      ...Array.from({ length: 100 }, (_, i) => 2n ** 63n - 1n - BigInt(i)),
      ...Array.from({ length: 100 }, (_, i) => BigInt(i + 1) << 32n),
    ];
    for (let step = 0; step < 10_000; step++) {
      const key = keys[Math.floor(random() * keys.length)] as bigint;
      if (random() < 0.4) {
        expect(table.delete(key)).toBe(reference.delete(key));
      } else {
        table.set(key, step);
        reference.set(key, step);
      }
      if (step % 199 === 0) {
        for (const k of keys) expect(table.get(k)).toBe(reference.get(k));
        expect(table.size).toBe(reference.size);
      }
    }
    // Bulk mapping agrees too: new ids, ids already present, and a view at an odd offset.
    const bulk = BigInt64Array.from([...keys.slice(0, 50), 2n ** 40n + 7n, -5n]);
    const view = new BigInt64Array(bulk.buffer, 8, bulk.length - 1);
    table.setRows(view, 1000);
    view.forEach((k, i) => {
      reference.set(k, 1000 + i);
    });
    for (const k of [...keys, 2n ** 40n + 7n, -5n]) expect(table.get(k)).toBe(reference.get(k));
    expect(table.size).toBe(reference.size);
    table.clear();
    expect(table.size).toBe(0);
    expect(table.get(1n)).toBe(undefined);
  });
});
