import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, relative, resolve } from "node:path";
import { FacevaultError } from "../errors.js";

/** One image to enroll. */
export interface EnrollItem {
  /** Decimal class id (positive int64). */
  classId: string;
  /** Absolute path of the image. */
  path: string;
  /** The path as the report and journal show it: relative to the folder or CSV file. */
  file: string;
}

/** What to enroll: the images, and each class's tags (classes without tags are absent). */
export interface EnrollSource {
  /** Absolute path of the folder or CSV file. */
  origin: string;
  items: EnrollItem[];
  tags: Map<string, string[]>;
}

const imageExtensions = new Set([
  ".jpg",
  ".jpeg",
  ".png",
  ".webp",
  ".bmp",
  ".gif",
  ".tif",
  ".tiff",
]);
const maxClassId = 2n ** 63n - 1n;

/**
 * Reads a folder (`<dir>/<classId>/*.jpg`, tags one per line in an optional
 * `<dir>/<classId>/tags.txt`) or a CSV file (`classId,path[,tags]`, tags separated by `;`,
 * paths relative to the CSV file, an optional header line). Classes and files come sorted, so
 * every run sees the same order.
 * @throws FacevaultError naming the folder, line or class id at fault.
 */
export function readEnrollSource(path: string): EnrollSource {
  const origin = resolve(path);
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(origin);
  } catch (err) {
    throw new FacevaultError("not_found", `${path}: no such folder or CSV file`, { cause: err });
  }
  return stat.isDirectory() ? readFolder(origin) : readCsv(origin);
}

function readFolder(origin: string): EnrollSource {
  const items: EnrollItem[] = [];
  const tags = new Map<string, string[]>();
  const classDirs = readdirSync(origin, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  for (const name of classDirs) {
    const classId = parseClassId(name, `${origin}/${name}`);
    const dir = join(origin, name);
    const files = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && imageExtensions.has(extname(e.name).toLowerCase()))
      .map((e) => e.name)
      .sort();
    for (const file of files) {
      items.push({ classId, path: join(dir, file), file: `${name}/${file}` });
    }
    let text: string | undefined;
    try {
      text = readFileSync(join(dir, "tags.txt"), "utf8");
    } catch {
      // tags.txt is optional
    }
    if (text !== undefined) tags.set(classId, splitTags(text, /[\n,]/));
  }
  if (items.length === 0) {
    throw new FacevaultError(
      "invalid_argument",
      `${origin}: no images found (expected <folder>/<classId>/*.jpg)`,
    );
  }
  return { origin, items, tags };
}

function readCsv(origin: string): EnrollSource {
  const base = dirname(origin);
  const items: EnrollItem[] = [];
  const tags = new Map<string, string[]>();
  const lines = readFileSync(origin, "utf8").split(/\r?\n/);
  lines.forEach((line, index) => {
    const at = `${origin}:${index + 1}`;
    if (line.trim() === "" || line.startsWith("#")) return;
    const fields = splitCsvLine(line, at);
    if (index === 0 && !/^\s*\d+\s*$/.test(fields[0] ?? "")) return; // a header line
    const [id = "", file = "", tagField] = fields;
    if (!file.trim()) throw new FacevaultError("invalid_argument", `${at}: no image path`);
    const classId = parseClassId(id.trim(), at);
    const path = resolve(base, file.trim());
    items.push({ classId, path, file: relative(base, path) });
    if (tagField !== undefined && tagField.trim() !== "") {
      const merged = new Set([...(tags.get(classId) ?? []), ...splitTags(tagField, /;/)]);
      tags.set(classId, [...merged]);
    }
  });
  if (items.length === 0) throw new FacevaultError("invalid_argument", `${origin}: no rows`);
  return { origin, items, tags };
}

/** Splits one CSV line: commas, double quotes around fields with commas, "" for a quote. */
function splitCsvLine(line: string, at: string): string[] {
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      fields.push(field);
      field = "";
    } else field += ch;
  }
  if (quoted) throw new FacevaultError("invalid_argument", `${at}: unterminated quote`);
  fields.push(field);
  return fields;
}

function splitTags(text: string, separator: RegExp): string[] {
  return text
    .split(separator)
    .map((t) => t.trim())
    .filter((t) => t !== "");
}

function parseClassId(text: string, at: string): string {
  if (/^\d+$/.test(text)) {
    const id = BigInt(text);
    if (id >= 1n && id <= maxClassId) return id.toString();
  }
  throw new FacevaultError(
    "invalid_argument",
    `${at}: '${text}' is not a class id (a whole number from 1 to 2^63-1)`,
  );
}
