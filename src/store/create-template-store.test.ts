import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { createTemplateStore, parseDatabaseLocation } from "./create-template-store.js";
import { rejection, templateWrite } from "./template-store.contract.js";

describe("parseDatabaseLocation", () => {
  it.each([
    [
      "postgres://u:p@db:5432/x",
      { kind: "postgres", connectionString: "postgres://u:p@db:5432/x" },
    ],
    [
      "postgresql://db/x?sslmode=require",
      { kind: "postgres", connectionString: "postgresql://db/x?sslmode=require" },
    ],
    ["POSTGRES://db/x", { kind: "postgres", connectionString: "POSTGRES://db/x" }],
    ["/var/lib/facevault/store.db", { kind: "sqlite", path: "/var/lib/facevault/store.db" }],
    ["data/store.db", { kind: "sqlite", path: "data/store.db" }],
    ["sqlite:data/store.db", { kind: "sqlite", path: "data/store.db" }],
    ["sqlite:///var/store.db", { kind: "sqlite", path: "/var/store.db" }],
    ["file:data/store.db", { kind: "sqlite", path: "data/store.db" }],
    ["file:///var/my%20store.db", { kind: "sqlite", path: "/var/my store.db" }],
    [":memory:", { kind: "sqlite", path: ":memory:" }],
  ])("%s", (database, expected) => {
    expect(parseDatabaseLocation(database)).toEqual(expected);
  });

  it("rejects an empty location and a remote file URL", () => {
    for (const database of ["", "  ", "sqlite:", "file://remote-host/x.db"]) {
      expect(() => parseDatabaseLocation(database)).toThrow(
        expect.objectContaining({ kind: "invalid_argument", field: "database" }),
      );
    }
  });
});

describe("createTemplateStore", () => {
  const dir = mkdtempSync(join(tmpdir(), "facevault-create-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("opens a SQLite store for a file URL and migrates it", async () => {
    const path = join(dir, "via url.db");
    const store = await createTemplateStore({ database: pathToFileURL(path).href });
    try {
      expect(store.kind).toBe("sqlite");
      const bcid = { storage: "main", partition: 1, classId: 1n };
      await store.put(templateWrite(bcid), 0);
      expect((await store.get(bcid))?.version).toBe(1);
    } finally {
      await store.close();
    }
    const reopened = await createTemplateStore({ database: `sqlite:${path}` });
    try {
      expect(await reopened.get({ storage: "main", partition: 1, classId: 1n })).toBeDefined();
    } finally {
      await reopened.close();
    }
  });

  it("reports a bad location as invalid_argument", async () => {
    expect((await rejection(createTemplateStore({ database: "" }))).kind).toBe("invalid_argument");
  });
});
