import { createHash, timingSafeEqual } from "node:crypto";
import { FacevaultError } from "../errors.js";

/** One entry of config `admins[]`, its key read (from the file, when given as `keyFile`). */
export interface AdminConfig {
  /** Names the admin in logs and in the call log (as client `admin:<id>`). */
  id: string;
  /** The bearer key, at least 32 characters. */
  key: string;
  /** `*` (everything), `<storage>/*` or `<storage>/<partition>`. */
  scopes: string[];
}

/** An authenticated admin: what it may see and change. */
export interface AdminIdentity {
  id: string;
  /** True for a `*` scope: every partition, the whole call log, pruning. */
  all: boolean;
  /** Whether a storage/partition is within the admin's scopes. */
  allows(storage: string, partition: number): boolean;
}

export interface AdminKeyRegistry {
  /**
   * The admin whose key is the bearer token of `authorization`.
   * @throws FacevaultError `unauthenticated`, with one message for every wrong key.
   */
  authenticate(authorization: string | null): AdminIdentity;
}

/** A scope as written in the configuration. */
export const ADMIN_SCOPE = /^(\*|[^/\s]+\/(\*|\d{1,10}))$/;

/**
 * Admin keys are static bearer secrets (like API tokens): compared as SHA-256 digests in
 * constant time against every configured key, so neither timing nor messages tell which keys
 * exist.
 */
export function createAdminKeyRegistry(admins: readonly AdminConfig[]): AdminKeyRegistry {
  const entries = admins.map((admin) => ({
    digest: digest(admin.key),
    identity: identityOf(admin),
  }));
  return {
    authenticate(authorization) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
      if (!match) {
        throw new FacevaultError(
          "unauthenticated",
          "an admin key is required: Authorization: Bearer <key>",
        );
      }
      const presented = digest(match[1] as string);
      let found: AdminIdentity | undefined;
      for (const entry of entries) {
        if (timingSafeEqual(entry.digest, presented)) found ??= entry.identity;
      }
      if (!found) throw new FacevaultError("unauthenticated", "the admin key is not valid");
      return found;
    },
  };
}

function digest(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

function identityOf(admin: AdminConfig): AdminIdentity {
  const all = admin.scopes.includes("*");
  const storages = new Set<string>();
  const partitions = new Set<string>();
  for (const scope of admin.scopes) {
    const [storage, partition] = scope.split("/") as [string, string];
    if (partition === "*") storages.add(storage);
    else partitions.add(`${storage}/${Number(partition)}`);
  }
  return {
    id: admin.id,
    all,
    allows: (storage, partition) =>
      all || storages.has(storage) || partitions.has(`${storage}/${partition}`),
  };
}
