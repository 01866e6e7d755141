import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type DescMessage, type MessageShape, toJsonString } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  FaceSearchResponseSchema,
  FaceTemplateStatusSchema,
  FaceVerificationResponseSchema,
  JobStatus,
} from "@facevault/client";
import { FacevaultError } from "../errors.js";
import { connectToServer, type ServerOptions } from "./server-connection.js";
import { usageError } from "./usage-error.js";

export interface OutputOptions extends ServerOptions {
  json?: boolean;
  /** Deadline of the call, in seconds. */
  timeout: number;
}

type Out = (text: string) => void;
const out: Out = (text) => process.stdout.write(text);

/** Parses a class id argument. @throws a usage error when it is not a positive int64. */
export function classIdArg(text: string): bigint {
  if (/^\d+$/.test(text)) {
    const id = BigInt(text);
    if (id >= 1n && id < 2n ** 63n) return id;
  }
  throw usageError(`'${text}' is not a class id (a whole number from 1 to 2^63-1)`);
}

function readImage(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new FacevaultError("not_found", `cannot read image ${path}`, { cause: err });
  }
}

function json<D extends DescMessage>(schema: D, message: MessageShape<D>): string {
  return `${toJsonString(schema, message, { prettySpaces: 2, alwaysEmitImplicit: true })}\n`;
}

async function withServer<T>(
  options: ServerOptions,
  body: (c: ReturnType<typeof connectToServer>) => Promise<T>,
) {
  const connection = connectToServer(options);
  try {
    return await body(connection);
  } finally {
    connection.close();
  }
}

function errorsText(errors: readonly { errorCode: string; message: string }[]): string {
  return errors.map((e) => `  error ${e.errorCode}: ${e.message}\n`).join("");
}

/**
 * `facevault verify <classId> <image>`. Exit code 0 when verified, 1 when the call failed, 2
 * when it answered "not verified" (as `grep` answers "no match"), so scripts can branch on it.
 */
export async function verifyCommand(id: string, image: string, o: OutputOptions): Promise<number> {
  const classId = classIdArg(id);
  const bytes = readImage(image);
  const answer = await withServer(o, (c) =>
    c.calls.verify({ classId, image: { image: bytes } }, { timeoutMs: o.timeout * 1000 }),
  );
  if (o.json) out(json(FaceVerificationResponseSchema, answer));
  else {
    out(
      `class ${classId}: ${answer.verified ? "verified" : "not verified"} (score ${answer.score.toFixed(3)})\n${errorsText(answer.errors)}`,
    );
  }
  if (answer.status !== JobStatus.SUCCEEDED) return 1;
  return answer.verified ? 0 : 2;
}

/** `facevault search <image...>`: the matching classes of each image, best first. */
export async function searchCommand(
  images: string[],
  o: OutputOptions & { tag?: string[]; top?: boolean },
): Promise<number> {
  const request = {
    images: images.map((path) => ({ image: readImage(path) })),
    tags: o.tag ?? [],
    topMatches: Boolean(o.top),
  };
  const answer = await withServer(o, (c) =>
    c.calls.search(request, { timeoutMs: o.timeout * 1000 }),
  );
  if (o.json) out(json(FaceSearchResponseSchema, answer));
  else {
    answer.result.forEach((r, i) => {
      out(`${images[i]}:${r.matches.length === 0 ? " no match" : ""}\n`);
      for (const m of r.matches) out(`  class ${m.classId}  score ${m.score.toFixed(3)}\n`);
    });
    out(errorsText(answer.errors));
  }
  return answer.status === JobStatus.SUCCEEDED ? 0 : 1;
}

/** `facevault status <classId>`: the template's state; `--thumbnails DIR` saves its PNGs. */
export async function statusCommand(
  id: string,
  o: OutputOptions & { thumbnails?: string },
): Promise<number> {
  const classId = classIdArg(id);
  const status = await withServer(o, (c) =>
    c.calls.getTemplateStatus(
      { classId, downloadThumbnails: o.thumbnails !== undefined },
      { timeoutMs: o.timeout * 1000 },
    ),
  );
  if (o.thumbnails !== undefined) {
    mkdirSync(o.thumbnails, { recursive: true });
    status.thumbnails.forEach((t, i) => {
      writeFileSync(join(o.thumbnails as string, `${classId}-${i + 1}.png`), t.image);
    });
  }
  if (o.json) {
    // Thumbnails went to files; the JSON stays readable.
    out(json(FaceTemplateStatusSchema, { ...status, thumbnails: [] }));
    return 0;
  }
  if (!status.available) {
    out(`class ${classId}: no template\n`);
    return 0;
  }
  const rows: [string, string][] = [
    ["class", String(classId)],
    ["enrolled", status.enrolled ? timestampDate(status.enrolled).toISOString() : "-"],
    ["encoder", String(status.encoderVersion)],
    ["feature vectors", String(status.featureVectors)],
    ["thumbnails", String(status.thumbnailsStored)],
    ["tags", status.tags.join(", ") || "-"],
  ];
  if (o.thumbnails !== undefined) {
    rows.push(["saved", `${status.thumbnails.length} PNG files in ${o.thumbnails}`]);
  }
  for (const [k, v] of rows) out(`${`${k}:`.padEnd(17)}${v}\n`);
  return 0;
}

/** `facevault tags <classId> [tag...]`: shows the tags, or replaces them (`--clear`: none). */
export async function tagsCommand(
  id: string,
  tags: string[],
  o: OutputOptions & { clear?: boolean },
): Promise<number> {
  const classId = classIdArg(id);
  if (o.clear && tags.length > 0) throw usageError("give tags or --clear, not both");
  const set = o.clear || tags.length > 0;
  const after = await withServer(o, async (c) => {
    const call = { timeoutMs: o.timeout * 1000 };
    if (set) await c.calls.setTemplateTags({ classId, tags }, call);
    return c.calls.getTemplateStatus({ classId }, call);
  });
  if (o.json) out(`${JSON.stringify({ classId: String(classId), tags: after.tags })}\n`);
  else if (!after.available) out(`class ${classId}: no template\n`);
  else out(`class ${classId}: ${after.tags.length ? after.tags.join(", ") : "no tags"}\n`);
  return 0;
}

/** `facevault delete <classId...>`: deletes the templates (a missing one is no error). */
export async function deleteCommand(ids: string[], o: OutputOptions): Promise<number> {
  const classIds = ids.map(classIdArg);
  await withServer(o, async (c) => {
    for (const classId of classIds) {
      await c.calls.deleteTemplate({ classId }, { timeoutMs: o.timeout * 1000 });
    }
  });
  if (o.json) out(`${JSON.stringify({ deleted: classIds.map(String) })}\n`);
  else for (const id of classIds) out(`class ${id}: deleted\n`);
  return 0;
}
