import { FacevaultError } from "../errors.js";

/** One numbered schema change. Applied once, in order, recorded in `schema_migrations`. */
export interface Migration {
  version: number;
  name: string;
  /** Statements run in the migration's transaction. */
  sql: string;
}

/**
 * The migrations still to apply, in order.
 * @throws FacevaultError `failed_precondition` when the database has a version this code does
 *   not know: a newer facevault migrated it, and running older code against it is unsafe.
 */
export function pendingMigrations(
  known: readonly Migration[],
  applied: readonly number[],
): Migration[] {
  const knownVersions = new Set(known.map((migration) => migration.version));
  const unknown = applied.filter((version) => !knownVersions.has(version));
  if (unknown.length > 0) {
    throw new FacevaultError(
      "failed_precondition",
      `database schema has migration ${Math.max(...unknown)}, unknown to this facevault version: upgrade facevault`,
    );
  }
  const done = new Set(applied);
  return known
    .filter((migration) => !done.has(migration.version))
    .sort((a, b) => a.version - b.version);
}
