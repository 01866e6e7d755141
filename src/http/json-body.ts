import type { DescMessage, JsonValue } from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";
import { FacevaultError } from "../errors.js";

/**
 * Parses a JSON request body. Integers beyond 2^53 cannot survive `JSON.parse` exactly, so they
 * are refused (naming where they are) instead of being silently rounded: send int64 as strings.
 * @throws FacevaultError `invalid_argument`.
 */
export function parseJsonBody(text: string): JsonValue {
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new FacevaultError(
      "invalid_argument",
      `request body is not valid JSON: ${(err as Error).message}`,
      { field: "body" },
    );
  }
  const where = findUnsafeInteger(value, "");
  if (where !== undefined) {
    const field = where || "body";
    throw new FacevaultError(
      "invalid_argument",
      `${field}: number is beyond 2^53 and cannot be read exactly; send 64-bit values as strings`,
      { field },
    );
  }
  return value;
}

function findUnsafeInteger(value: JsonValue, path: string): string | undefined {
  if (typeof value === "number") {
    return Number.isInteger(value) && !Number.isSafeInteger(value) ? path : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnsafeInteger(value[i] as JsonValue, `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      const found = findUnsafeInteger(child as JsonValue, path ? `${path}.${key}` : key);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

const dataUrl = /^data:[^,;]*(;[^,;=]+=[^,;]*)*;base64,/i;

/**
 * Removes a `data:<mime>;base64,` prefix from a base64 string, so images pasted as data URLs
 * are accepted wherever plain base64 is.
 * @throws FacevaultError `invalid_argument` for a data URL that is not base64.
 */
export function stripDataUrl(value: string, field: string): string {
  if (!value.startsWith("data:")) return value;
  const match = dataUrl.exec(value.slice(0, 256));
  if (!match) {
    throw new FacevaultError("invalid_argument", `${field}: a data URL must be base64-encoded`, {
      field,
    });
  }
  return value.slice(match[0].length);
}

/**
 * Walks a proto3 JSON value along its message schema and strips data-URL prefixes from every
 * bytes field, in place. Used for Connect JSON requests before Connect decodes them.
 */
export function stripDataUrlsInJson(schema: DescMessage, json: JsonValue, path = ""): void {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return;
  for (const field of schema.fields) {
    const key =
      field.jsonName in json ? field.jsonName : field.name in json ? field.name : undefined;
    if (key === undefined) continue;
    const at = path ? `${path}.${key}` : key;
    const value = json[key];
    if (field.fieldKind === "scalar" && field.scalar === ScalarType.BYTES) {
      if (typeof value === "string") json[key] = stripDataUrl(value, at);
    } else if (field.fieldKind === "message" && value !== undefined) {
      stripDataUrlsInJson(field.message, value, at);
    } else if (field.fieldKind === "list" && Array.isArray(value)) {
      value.forEach((item, i) => {
        if (field.listKind === "message") stripDataUrlsInJson(field.message, item, `${at}[${i}]`);
        else if (
          field.listKind === "scalar" &&
          field.scalar === ScalarType.BYTES &&
          typeof item === "string"
        ) {
          value[i] = stripDataUrl(item, `${at}[${i}]`);
        }
      });
    }
  }
}
