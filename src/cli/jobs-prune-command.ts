import type { FacevaultConfig } from "../config.js";
import { openConfiguredStore } from "./maintenance-store.js";
import { usageError } from "./usage-error.js";

const unitMs: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** Parses an age such as `90d`, `12h`, `30m`, `2w` or `45s` into milliseconds. */
export function parseAge(text: string): number {
  const match = /^(\d+)([smhdw])$/.exec(text.trim());
  if (!match)
    throw usageError(
      `--older-than must be a number and a unit (s, m, h, d, w), e.g. 90d, not '${text}'`,
    );
  return Number(match[1]) * (unitMs[match[2] as string] as number);
}

/**
 * `facevault jobs prune --older-than 90d`: deletes the bookkeeping records received before
 * then, through the JobLog's batched prune (concurrent writers are never blocked for long, so
 * it is safe while servers run; interrupted, it is simply run again). The servers prune by
 * themselves when `bookkeeping.retentionDays` is set.
 * @returns how many records were deleted and the cut-off.
 */
export async function jobsPruneCommand(
  config: FacevaultConfig,
  olderThan: string,
  now = new Date(),
): Promise<{ deleted: number; olderThan: Date }> {
  const cutoff = new Date(now.getTime() - parseAge(olderThan));
  const store = await openConfiguredStore(config);
  try {
    return { deleted: await store.pruneJobs(cutoff), olderThan: cutoff };
  } finally {
    await store.close();
  }
}
