import { fileURLToPath } from "node:url";
import { FacevaultError } from "../errors.js";
import {
  createPostgresTemplateStore,
  type PostgresTemplateStore,
} from "./postgres-template-store.js";
import { createSqliteTemplateStore, type SqliteTemplateStore } from "./sqlite-template-store.js";

export interface TemplateStoreOptions {
  /**
   * `postgres://…` or `postgresql://…` for PostgreSQL; anything else is a SQLite file path,
   * optionally written `sqlite:<path>`, `sqlite://<path>` or `file:<path>` / `file:///<path>`.
   */
  database: string;
  /** PostgreSQL schema. Default `facevault`. */
  schema?: string;
  /** Most PostgreSQL pool connections. Default 10. */
  poolSize?: number;
  /** SQLite lock wait in milliseconds. Default 5000. */
  busyTimeoutMs?: number;
}

export type DatabaseLocation =
  | { kind: "postgres"; connectionString: string }
  | { kind: "sqlite"; path: string };

/** Tells which backend a `database` setting names (no I/O). */
export function parseDatabaseLocation(database: string): DatabaseLocation {
  const value = database.trim();
  if (/^postgres(ql)?:\/\//i.test(value)) return { kind: "postgres", connectionString: value };
  let path = value;
  if (/^file:\/\//i.test(value)) {
    try {
      path = fileURLToPath(value);
    } catch (cause) {
      throw new FacevaultError("invalid_argument", "database file URL is not a local file", {
        field: "database",
        cause,
      });
    }
  } else if (/^(sqlite|file):/i.test(value)) {
    path = value.replace(/^(sqlite|file):(\/\/)?/i, "");
  }
  if (path.length === 0) {
    throw new FacevaultError("invalid_argument", "database location is empty", {
      field: "database",
    });
  }
  return { kind: "sqlite", path };
}

/** Opens (and migrates) the store the `database` setting names. */
export async function createTemplateStore(
  options: TemplateStoreOptions,
): Promise<PostgresTemplateStore | SqliteTemplateStore> {
  const location = parseDatabaseLocation(options.database);
  if (location.kind === "postgres") {
    return createPostgresTemplateStore({
      connectionString: location.connectionString,
      ...(options.schema === undefined ? {} : { schema: options.schema }),
      ...(options.poolSize === undefined ? {} : { poolSize: options.poolSize }),
    });
  }
  return createSqliteTemplateStore({
    path: location.path,
    ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
  });
}
