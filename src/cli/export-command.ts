import { closeSync, existsSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import type { FacevaultConfig } from "../config.js";
import { FacevaultError } from "../errors.js";
import { encodeEnhanced } from "../templates/template-codec.js";
import { createTemplateSealer } from "../templates/template-sealer.js";
import { createTemplateVault } from "../templates/template-vault.js";
import {
  type ArchiveSecret,
  archiveCipher,
  newHeader,
  parseHeader,
  recordsDigest,
} from "./export-archive.js";
import {
  bcidOf,
  classIdsOf,
  countClasses,
  openTemplateStore,
  partitionsOf,
} from "./maintenance-store.js";
import { createProgress } from "./progress.js";
import { usageError } from "./usage-error.js";

/**
 * `facevault export --partition storage/partition --out FILE`: every template of the partition
 * (feature vectors, thumbnails, tags, times) into one encrypted, checksummed archive (see
 * export-archive.ts). Reads only, so safe while servers run; a template changed during the
 * export is taken as it was when read. Written to FILE.partial and renamed when complete; an
 * interrupted export continues from the last whole record of FILE.partial.
 */
export async function exportCommand(
  config: FacevaultConfig,
  options: { partition?: string; out: string; json?: boolean },
  secret: ArchiveSecret,
): Promise<{ templates: number; resumedAfter: number }> {
  if (!options.partition) throw usageError("--partition storage/partition is required");
  const [at] = partitionsOf(config, options.partition);
  if (!at) throw usageError("--partition storage/partition is required");
  if (existsSync(options.out)) {
    throw new FacevaultError("already_exists", `${options.out} exists; choose another --out`);
  }
  const partial = `${options.out}.partial`;
  let headerLine: string;
  const lines: string[] = [];
  let after = 0n;
  if (existsSync(partial)) {
    // Resume: keep the whole records (a torn last line is dropped), continue after the last.
    const text = readFileSync(partial, "utf8");
    const all = text.split("\n");
    headerLine = all[0] ?? "";
    parseHeader(headerLine);
    // The element after the last newline is "" or a torn record: either way it goes.
    lines.push(...all.slice(1, -1).filter((l) => !l.startsWith("end ")));
  } else {
    headerLine = JSON.stringify(newHeader(at.storage, at.partition, secret));
  }
  const cipher = archiveCipher(headerLine, secret);
  const last = lines.at(-1);
  if (last !== undefined) after = BigInt(cipher.openRecord(lines.length - 1, last).classId);
  // Rewrite the kept part: a torn line must not stay in the middle of the file.
  const fd = openSync(partial, "w", 0o600);
  const vault = createTemplateVault({
    sealer: createTemplateSealer({ masterKeys: config.masterKeys }),
  });
  const store = await openTemplateStore(config, vault);
  const resumedAfter = lines.length;
  try {
    writeSync(fd, `${headerLine}\n${lines.map((l) => `${l}\n`).join("")}`);
    const progress = createProgress({
      json: Boolean(options.json),
      label: "export",
      unit: "templates",
      total: await countClasses(store, [at]),
      start: resumedAfter,
    });
    for await (const { classId } of classIdsOf(store, at, after)) {
      const stored = await store.get(bcidOf(at, classId));
      if (!stored) continue; // deleted meanwhile
      const enhanced = vault.openEnhanced(stored.bcid, stored.enhanced);
      const line = cipher.sealRecord(lines.length, {
        classId: classId.toString(),
        encoderVersion: stored.encoderVersion,
        tags: stored.tags,
        createdAt: stored.createdAt.toISOString(),
        enrolledAt: stored.enrolledAt.toISOString(),
        enhanced: Buffer.from(encodeEnhanced(enhanced)).toString("base64"),
      });
      writeSync(fd, `${line}\n`);
      lines.push(line);
      progress.tick(false);
    }
    progress.stop();
    writeSync(fd, `${cipher.sealEnd(lines.length, recordsDigest(lines))}\n`);
  } finally {
    closeSync(fd);
    await store.close();
  }
  renameSync(partial, options.out);
  return { templates: lines.length, resumedAfter };
}
