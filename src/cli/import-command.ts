import { readFileSync } from "node:fs";
import type { FacevaultConfig } from "../config.js";
import { FacevaultError, isFacevaultError } from "../errors.js";
import { getEncoder } from "../face/encoders.js";
import { compactOf } from "../templates/template-builder.js";
import { decodeEnhanced } from "../templates/template-codec.js";
import { createTemplateSealer } from "../templates/template-sealer.js";
import { createTemplateVault } from "../templates/template-vault.js";
import { type ArchiveSecret, archiveCipher, parseHeader, recordsDigest } from "./export-archive.js";
import { bcidOf, openTemplateStore, partitionsOf } from "./maintenance-store.js";
import { createProgress } from "./progress.js";

/** What happened to one class of the archive. */
export interface ImportRow {
  classId: string;
  /** TEMPLATE_IMPORTED, or TEMPLATE_EXISTS (left as it is: never overwritten). */
  action: "TEMPLATE_IMPORTED" | "TEMPLATE_EXISTS";
}

/**
 * `facevault import FILE`: the templates of an export archive into the configured database,
 * in the archive's partition or `--partition`. The whole archive is authenticated and its
 * checksum compared before anything is written. A class that already has a template is left
 * as it is (TEMPLATE_EXISTS), which also makes an interrupted import safe to run again; the
 * others are written (TEMPLATE_IMPORTED) sealed under this server's master key, their compact
 * part sealed as the partition's client is configured. Safe while servers run: new templates
 * are created with the store's "must not exist" write.
 */
export async function importCommand(
  config: FacevaultConfig,
  file: string,
  options: { partition?: string; json?: boolean },
  secret: ArchiveSecret,
): Promise<{ rows: ImportRow[]; storage: string; partition: number }> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new FacevaultError("not_found", `cannot read ${file}`, { cause: err });
  }
  const all = text.split("\n").filter((l) => l !== "");
  const headerLine = all[0] ?? "";
  const header = parseHeader(headerLine);
  const endLine = all.at(-1);
  if (all.length < 2 || !endLine?.startsWith("end ")) {
    throw new FacevaultError("data_loss", `${file} is incomplete (no end line): export it again`);
  }
  const cipher = archiveCipher(headerLine, secret);
  const records = all.slice(1, -1);
  const end = cipher.openEnd(endLine);
  if (end.count !== records.length || end.sha256 !== recordsDigest(records)) {
    throw new FacevaultError(
      "data_loss",
      `${file} does not match its checksum: records are missing or changed`,
    );
  }
  const decoded = records.map((line, i) => cipher.openRecord(i, line));
  const [at] = options.partition
    ? partitionsOf(config, options.partition)
    : [{ storage: header.storage, partition: header.partition }];
  if (!at) throw new FacevaultError("invalid_argument", "no partition to import into");
  const perTemplateKey = config.clients.some(
    (c) => c.storage === at.storage && c.partition === at.partition && c.encryptCompactTemplate,
  );
  const vault = createTemplateVault({
    sealer: createTemplateSealer({ masterKeys: config.masterKeys }),
  });
  const store = await openTemplateStore(config, vault);
  const rows: ImportRow[] = [];
  const progress = createProgress({
    json: Boolean(options.json),
    label: "import",
    unit: "templates",
    total: decoded.length,
    start: 0,
  });
  try {
    for (const r of decoded) {
      const bcid = bcidOf(at, BigInt(r.classId));
      const template = decodeEnhanced(Buffer.from(r.enhanced, "base64"));
      const metric = getEncoder(template.encoderVersion).metric;
      try {
        await store.put(
          {
            bcid,
            encoderVersion: template.encoderVersion,
            tags: r.tags,
            createdAt: new Date(r.createdAt),
            enrolledAt: new Date(r.enrolledAt),
            featureCount: template.features.length,
            thumbnailCount: template.thumbnails.length,
            compact: vault.sealCompact(bcid, compactOf(template, metric), perTemplateKey),
            enhanced: vault.sealEnhanced(bcid, template),
          },
          0,
        );
        rows.push({ classId: r.classId, action: "TEMPLATE_IMPORTED" });
      } catch (err) {
        if (!isFacevaultError(err, "aborted")) throw err;
        rows.push({ classId: r.classId, action: "TEMPLATE_EXISTS" });
      }
      progress.tick(false);
    }
    progress.stop();
  } finally {
    await store.close();
  }
  return { rows, storage: at.storage, partition: at.partition };
}
