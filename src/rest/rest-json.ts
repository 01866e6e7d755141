import {
  type DescField,
  type DescMessage,
  fromJson,
  type JsonObject,
  type JsonValue,
  type MessageShape,
  ScalarType,
  toJson,
} from "@bufbuild/protobuf";
import { FacevaultError } from "../errors.js";

/**
 * The JSON Web API's message forms. It is proto3 JSON (protobuf-es `fromJson`/`toJson`) with the
 * allowances BWS callers rely on:
 * - int64 values are written as JSON numbers with their exact digits, as BWS does (its .NET
 *   client reads them into a `long` and throws on a quoted number); numbers and strings are both
 *   read, and an integer JSON.parse would round is refused instead of being read wrong;
 * - images may be sent as `data:<mime>;base64,` URLs, and base64 may be wrapped in lines;
 * - every error names its place (`images[2].image: ...`), for a clear 400.
 * Bytes are decoded with Node's native base64 decoder: protobuf-es decodes in JavaScript at
 * about 20 MB/s, which would cost a 2 MB phone photo as much time as its face analysis.
 */

/** Largest nesting of arrays and objects a JSON body may have. */
export const defaultMaxJsonDepth = 32;

/**
 * Parses a JSON body. Refuses bodies nested deeper than `maxDepth` (before anything walks them)
 * and integers beyond 2^53, which `JSON.parse` would silently round. `root` names the field the
 * body fills, for the error's path (a bare array body of `tags` is `tags[1]`).
 * @throws FacevaultError `invalid_argument` naming the place.
 */
export function parseJsonBody(text: string, maxDepth = defaultMaxJsonDepth, root = ""): JsonValue {
  const depth = jsonDepth(text, maxDepth);
  if (depth > maxDepth) {
    throw bad("body", `JSON is nested deeper than the limit of ${maxDepth} levels`);
  }
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch (err) {
    throw bad("body", `is not valid JSON: ${(err as Error).message}`);
  }
  const where = findUnsafeInteger(value, root);
  if (where !== undefined) {
    throw bad(
      where || "body",
      "number is beyond 2^53 and cannot be read exactly; send it as a string",
    );
  }
  return value;
}

/**
 * Builds a request message from its REST JSON with protobuf-es `fromJson` (unknown fields are
 * refused, so typos do not pass silently), decoding bytes natively first.
 * @throws FacevaultError `invalid_argument` naming the field or image index.
 */
export function restRequestFromJson<D extends DescMessage>(
  schema: D,
  json: JsonValue,
): MessageShape<D> {
  const bytes: BytesValue[] = [];
  takeBytes(schema, json, "", [], bytes);
  let message: MessageShape<D>;
  try {
    message = fromJson(schema, json);
  } catch (err) {
    const at = locate(schema, json, "");
    throw bad(at.path, at.problem ?? (err as Error).message);
  }
  for (const { steps, value } of bytes) put(message, steps, value);
  return message;
}

/** The REST JSON text of a response message: every field, zero values included; int64 unquoted. */
export function restResponseText<D extends DescMessage>(
  schema: D,
  message: MessageShape<D>,
): string {
  return writeJson(schema, toJson(schema, message, { alwaysEmitImplicit: true }));
}

function bad(field: string, problem: string): FacevaultError {
  return new FacevaultError("invalid_argument", `${field}: ${problem}`, { field });
}

/** Deepest nesting of `text`, scanning no further than `limit + 1` levels; strings skipped. */
function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** Path of the first integer beyond 2^53; recursion is bounded by the depth check before it. */
function findUnsafeInteger(value: JsonValue, path: string): string | undefined {
  if (typeof value === "number") {
    return Number.isInteger(value) && !Number.isSafeInteger(value) ? path : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnsafeInteger(value[i] as JsonValue, `${path}[${i}]`);
      if (found !== undefined) return found;
    }
  } else if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      const found = findUnsafeInteger(child as JsonValue, path ? `${path}.${key}` : key);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** Where a bytes value goes in the message: field local names and list indexes. */
type Step = string | number;
interface BytesValue {
  steps: Step[];
  value: Uint8Array;
}

const dataUrl = /^data:[^,;]*(;[^,;=]+=[^,;]*)*;base64,/i;
const base64Text = /^[A-Za-z0-9+/]*={0,2}$|^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Walks `json` along the schema, decodes every base64 bytes value natively (data URL prefix and
 * line breaks removed) into `out`, and leaves an empty string in its place for `fromJson`.
 */
function takeBytes(
  schema: DescMessage,
  json: JsonValue,
  path: string,
  steps: Step[],
  out: BytesValue[],
): void {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return;
  if (schema.typeName.startsWith("google.protobuf.")) return;
  for (const [key, value] of Object.entries(json)) {
    const field = fieldByJsonKey(schema, key);
    if (!field || value === null) continue;
    const at = path ? `${path}.${key}` : key;
    const here = [...steps, field.localName];
    if (field.fieldKind === "scalar" && field.scalar === ScalarType.BYTES) {
      if (typeof value !== "string") continue; // fromJson names the type error
      out.push({ steps: here, value: decodeBase64(value, at) });
      json[key] = "";
    } else if (field.fieldKind === "message") {
      takeBytes(field.message, value, at, here, out);
    } else if (field.fieldKind === "list" && Array.isArray(value)) {
      value.forEach((item, i) => {
        const itemAt = `${at}[${i}]`;
        if (field.listKind === "message") {
          takeBytes(field.message, item, itemAt, [...here, i], out);
        } else if (
          field.listKind === "scalar" &&
          field.scalar === ScalarType.BYTES &&
          typeof item === "string"
        ) {
          out.push({ steps: [...here, i], value: decodeBase64(item, itemAt) });
          value[i] = "";
        }
      });
    }
  }
}

function decodeBase64(value: string, at: string): Uint8Array {
  let text = value;
  if (text.startsWith("data:")) {
    const match = dataUrl.exec(text.slice(0, 256));
    if (!match) throw bad(at, "a data URL must be base64-encoded (data:<type>;base64,...)");
    text = text.slice(match[0].length);
  }
  if (/\s/.test(text)) text = text.replace(/\s+/g, "");
  if (!base64Text.test(text) || text.replace(/=+$/, "").length % 4 === 1) {
    throw bad(at, "is not valid base64");
  }
  const buf = Buffer.from(text, "base64");
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function put(message: unknown, steps: Step[], value: Uint8Array): void {
  let target = message as Record<string | number, unknown>;
  for (const step of steps.slice(0, -1)) target = target[step] as Record<string | number, unknown>;
  target[steps[steps.length - 1] as Step] = value;
}

function fieldByJsonKey(schema: DescMessage, key: string): DescField | undefined {
  return schema.fields.find((f) => f.jsonName === key || f.name === key);
}

/**
 * Finds the place `fromJson` refused, by decoding one field (and one list item) at a time:
 * runs only on the error path, and turns "cannot decode field X.tags" into `tags[1]`.
 */
function locate(
  schema: DescMessage,
  json: JsonValue,
  path: string,
): { path: string; problem?: string } {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return { path: path || "body", problem: `expected a JSON object for ${schema.name}` };
  }
  for (const [key, value] of Object.entries(json)) {
    const at = path ? `${path}.${key}` : key;
    const field = fieldByJsonKey(schema, key);
    if (!field) return { path: at, problem: `unknown field of ${schema.name}` };
    const problem = decodeProblem(schema, { [key]: value });
    if (problem === undefined) continue;
    if (field.fieldKind === "message" && !field.message.typeName.startsWith("google.protobuf.")) {
      return locate(field.message, value, at);
    }
    if (field.fieldKind === "list" && Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item = value[i] as JsonValue;
        const itemProblem = decodeProblem(schema, { [key]: [item] });
        if (itemProblem === undefined) continue;
        if (field.listKind === "message" && item !== null) {
          return locate(field.message, item, `${at}[${i}]`);
        }
        return { path: `${at}[${i}]`, problem: itemProblem.replace(/^list item #\d+: /, "") };
      }
    }
    return { path: at, problem };
  }
  return { path: path || "body" };
}

/** Why `fromJson` refuses `json`, in its own words without the type prefix; undefined if not. */
function decodeProblem(schema: DescMessage, json: JsonObject): string | undefined {
  try {
    fromJson(schema, json);
    return undefined;
  } catch (err) {
    const message = (err as Error).message;
    const reason = message.indexOf(" from JSON: ");
    return reason < 0 ? message : message.slice(reason + " from JSON: ".length);
  }
}

const int64Scalars = new Set([
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);

/** JSON text of `json` (the toJson form of a `schema` message) with int64 strings unquoted. */
function writeJson(schema: DescMessage, json: JsonValue): string {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return JSON.stringify(json);
  if (schema.typeName.startsWith("google.protobuf.")) return JSON.stringify(json);
  const parts: string[] = [];
  for (const [key, value] of Object.entries(json)) {
    const field = fieldByJsonKey(schema, key);
    parts.push(
      `${JSON.stringify(key)}:${field ? writeField(field, value) : JSON.stringify(value)}`,
    );
  }
  return `{${parts.join(",")}}`;
}

function writeField(field: DescField, value: JsonValue): string {
  const int64 = (v: JsonValue) =>
    typeof v === "string" && /^-?\d+$/.test(v) ? v : JSON.stringify(v);
  switch (field.fieldKind) {
    case "scalar":
      return int64Scalars.has(field.scalar) ? int64(value) : JSON.stringify(value);
    case "message":
      return writeJson(field.message, value);
    case "list": {
      if (!Array.isArray(value)) return JSON.stringify(value);
      const items = value.map((item) =>
        field.listKind === "message"
          ? writeJson(field.message, item)
          : field.listKind === "scalar" && int64Scalars.has(field.scalar)
            ? int64(item)
            : JSON.stringify(item),
      );
      return `[${items.join(",")}]`;
    }
    default:
      return JSON.stringify(value);
  }
}
