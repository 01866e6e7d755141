import { type FacevaultConfig, servedPartitions } from "../config.js";
import { createTemplateStore } from "../store/create-template-store.js";
import type { Bcid, TemplateStore } from "../store/template-store.js";
import { withAuthenticatedMetadata } from "../templates/metadata-authentication.js";
import type { TemplateVault } from "../templates/template-vault.js";
import { usageError } from "./usage-error.js";

/** A storage and partition the maintenance commands work on. */
export interface PartitionRef {
  storage: string;
  partition: number;
}

/** Class ids read per page when walking a partition. */
export const classPageSize = 500;

/** Opens the configured database for a maintenance command (migrations applied as by serve). */
export async function openConfiguredStore(config: FacevaultConfig) {
  return createTemplateStore({ database: config.database, schema: config.databaseSchema });
}

/**
 * The configured database's templates as the server sees them: every read checks the metadata
 * MAC and every write makes it with `vault` (so a command never leaves a row the servers answer
 * DATA_LOSS for).
 */
export async function openTemplateStore(
  config: FacevaultConfig,
  vault: Pick<TemplateVault, "metadataMac" | "checkMetadata">,
): Promise<TemplateStore> {
  return withAuthenticatedMetadata(await openConfiguredStore(config), vault);
}

/**
 * The partitions a maintenance command works on: the one `--partition storage/partition`
 * names, or every partition a configured client uses (the only ones the server serves).
 */
export function partitionsOf(config: FacevaultConfig, option?: string): PartitionRef[] {
  if (option !== undefined) {
    const match = /^([^/]+)\/(\d+)$/.exec(option);
    if (!match)
      throw usageError(`--partition must be storage/partition, e.g. bws/1, not '${option}'`);
    return [{ storage: match[1] as string, partition: Number(match[2]) }];
  }
  return servedPartitions(config.clients);
}

/**
 * Every class id of a partition after `after`, ascending, page by page (each page one
 * snapshot; a class created meanwhile with a higher id is still met).
 */
export async function* classIdsOf(
  store: TemplateStore,
  at: PartitionRef,
  after = 0n,
): AsyncGenerator<{ classId: bigint; encoderVersion: number }> {
  let last = after;
  for (;;) {
    const page = await store.compactPage(at.storage, at.partition, last, classPageSize);
    for (const e of page.entries) yield { classId: e.classId, encoderVersion: e.encoderVersion };
    const tail = page.entries.at(-1);
    if (!tail || page.entries.length < classPageSize) return;
    last = tail.classId;
  }
}

/** Counts the classes of partitions (for progress). */
export async function countClasses(
  store: TemplateStore,
  partitions: readonly PartitionRef[],
  include: (e: { encoderVersion: number }) => boolean = () => true,
): Promise<number> {
  let n = 0;
  for (const p of partitions) for await (const e of classIdsOf(store, p)) if (include(e)) n++;
  return n;
}

export function bcidOf(at: PartitionRef, classId: bigint): Bcid {
  return { storage: at.storage, partition: at.partition, classId };
}
