import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FacevaultConfig } from "../config.js";
import { FacevaultError } from "../errors.js";
import { retryOnConflict } from "../store/retry-on-conflict.js";
import { createTemplateSealer } from "../templates/template-sealer.js";
import { createTemplateVault } from "../templates/template-vault.js";
import {
  bcidOf,
  classIdsOf,
  countClasses,
  openTemplateStore,
  partitionsOf,
} from "./maintenance-store.js";
import { createProgress } from "./progress.js";

export interface RekeyOptions {
  /** Stdout is JSON: progress goes to stderr. */
  json?: boolean;
  newMasterKeyFile: string;
  partition?: string;
}

export interface RekeySummary {
  templates: number;
  resealed: number;
  snapshots: number;
}

/**
 * `facevault rekey --new-master-key-file F`: re-seals every template (both parts, and with them
 * the partition keys derived from the master key) and every search snapshot under the new
 * master key, so that the old keys can then be dropped from `previousMasterKeys`.
 *
 * Safe while servers run, in this order: (1) the config gets the new key as `masterKey` and the
 * old one in `previousMasterKeys`, servers restart with it (they seal with the new key and open
 * both); (2) this command; (3) the old key leaves `previousMasterKeys`. The command therefore
 * refuses a key the config does not know: servers could not open what it sealed. Each template
 * is rewritten with the store's optimistic concurrency (a concurrent enrollment wins and is
 * read again); templates already under the new key are skipped, and a cursor in the data dir
 * lets an interrupted run continue where it stopped.
 */
export async function rekeyCommand(
  config: FacevaultConfig,
  options: RekeyOptions,
): Promise<RekeySummary> {
  const newKey = readMasterKeyFile(options.newMasterKeyFile);
  const known = config.masterKeys.findIndex((k) => Buffer.from(k).equals(newKey));
  if (known < 0) {
    throw new FacevaultError(
      "failed_precondition",
      "the new master key is not in the configuration: make it `masterKey` (the old one in `previousMasterKeys`) and restart the servers first, so that they can open what rekey seals",
    );
  }
  const others = config.masterKeys.filter((_, i) => i !== known);
  const sealer = createTemplateSealer({ masterKeys: [newKey, ...others] });
  const vault = createTemplateVault({ sealer });
  const store = await openTemplateStore(config, vault);
  const cursorFile = join(config.dataDir, `rekey-${sealer.currentKeyId}.cursor`);
  const cursor = readCursor(cursorFile);
  const summary: RekeySummary = { templates: 0, resealed: 0, snapshots: 0 };
  try {
    const partitions = partitionsOf(config, options.partition);
    const progress = createProgress({
      json: Boolean(options.json),
      label: "rekey",
      unit: "templates",
      total: await countClasses(store, partitions),
      start: 0,
    });
    for (const at of partitions) {
      const name = `${at.storage}/${at.partition}`;
      const perTemplateKey = config.clients.some(
        (c) => c.storage === at.storage && c.partition === at.partition && c.encryptCompactTemplate,
      );
      const after = BigInt(cursor[name] ?? "0");
      for await (const { classId } of classIdsOf(store, at)) {
        summary.templates++;
        if (classId <= after) {
          progress.tick(false);
          continue;
        }
        const bcid = bcidOf(at, classId);
        const resealed = await retryOnConflict(
          { attempts: 50, tooOften: `class ${classId}: written concurrently too often; run again` },
          async () => {
            const stored = await store.get(bcid);
            if (!stored) return false; // deleted meanwhile
            if (!sealer.needsRewrap(stored.compact) && !sealer.needsRewrap(stored.enhanced)) {
              return false;
            }
            const { version, ...rest } = stored;
            await store.put(
              {
                ...rest,
                compact: vault.sealCompact(
                  bcid,
                  vault.openCompact(bcid, stored.compact),
                  perTemplateKey,
                ),
                enhanced: vault.sealEnhanced(bcid, vault.openEnhanced(bcid, stored.enhanced)),
              },
              version,
            );
            return true;
          },
        );
        if (resealed) summary.resealed++;
        cursor[name] = classId.toString();
        writeFileSync(cursorFile, JSON.stringify(cursor));
        progress.tick(false);
      }
      if (await resealSnapshot(at)) summary.snapshots++;
    }
    progress.stop();
    rmSync(cursorFile, { force: true });
  } finally {
    await store.close();
  }
  return summary;

  /**
   * Re-seals the partition's search snapshot chunk by chunk, in place; false when there is none
   * (or a server replaced it meanwhile: the new one is sealed with the new key). Chunks a delete
   * cleared hold nothing to re-seal.
   */
  async function resealSnapshot(at: { storage: string; partition: number }) {
    const info = await store.searchSnapshot(at.storage, at.partition);
    if (!info) return false;
    for (let chunk = 0; chunk < info.chunks; chunk++) {
      const stored = await store.searchSnapshotChunk(at.storage, at.partition, info.id, chunk);
      if (!stored) return false;
      if (!stored.bytes) continue;
      const address = { ...at, revision: info.revision, chunk, chunks: info.chunks };
      const bytes = vault.sealSnapshotChunk(
        address,
        vault.openSnapshotChunk(address, stored.bytes),
      );
      await store.resealSearchSnapshotChunk(at.storage, at.partition, info.id, chunk, bytes);
    }
    return true;
  }
}

function readMasterKeyFile(path: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new FacevaultError("invalid_argument", `cannot read ${path}`, { cause: err });
  }
  const key = Buffer.from(text, "base64");
  if (key.length !== 32) {
    throw new FacevaultError("invalid_argument", `${path} must hold 32 bytes in base64`);
  }
  return key;
}

function readCursor(path: string): Record<string, string> {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, string>;
  } catch {
    return {};
  }
}
