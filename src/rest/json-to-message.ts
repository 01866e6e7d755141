import {
  create,
  type DescEnum,
  type DescField,
  type DescMessage,
  fromJson,
  type JsonValue,
  type MessageShape,
  ScalarType,
} from "@bufbuild/protobuf";
import { FacevaultError } from "../errors.js";
import { stripDataUrl } from "../http/json-body.js";

/**
 * Builds a request message from proto3 JSON, like protobuf-es `fromJson`, but
 * - names the exact place of every problem (`images[2].image`), for clear 400 answers,
 * - decodes base64 with Node's native decoder (the JS decoder costs ~9 ms per 200 KB image),
 * - accepts images as `data:<mime>;base64,` URLs,
 * - accepts `"true"`/`"false"` for booleans, as query parameters carry them.
 * Unknown fields are refused so that typos do not pass silently.
 * @throws FacevaultError `invalid_argument`.
 */
export function messageFromJson<D extends DescMessage>(
  schema: D,
  json: JsonValue,
  path = "",
): MessageShape<D> {
  return create(schema, initFromJson(schema, json, path) as never);
}

function bad(field: string, problem: string): FacevaultError {
  const where = field || "body";
  return new FacevaultError("invalid_argument", `${where}: ${problem}`, { field: where });
}

function describe(value: JsonValue): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return value.length > 32 ? "a string" : `'${value}'`;
  return typeof value === "object" ? "an object" : String(value);
}

function initFromJson(schema: DescMessage, json: JsonValue, path: string): Record<string, unknown> {
  if (schema.typeName.startsWith("google.protobuf.")) {
    // Well-known types have special JSON forms; protobuf-es knows them.
    try {
      return fromJson(schema, json) as unknown as Record<string, unknown>;
    } catch (err) {
      throw bad(path, (err as Error).message);
    }
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw bad(path, `expected an object, got ${describe(json)}`);
  }
  const init: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const at = path ? `${path}.${key}` : key;
    const field = schema.fields.find((f) => f.jsonName === key || f.name === key);
    if (!field) throw bad(at, `unknown field of ${schema.name}`);
    if (value === null) continue; // proto3 JSON: null means the default value
    init[field.localName] = fieldFromJson(field, value, at);
  }
  return init;
}

function fieldFromJson(field: DescField, value: JsonValue, at: string): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return scalarFromJson(field.scalar, value, at);
    case "enum":
      return enumFromJson(field.enum, value, at);
    case "message":
      return initFromJson(field.message, value, at);
    case "list": {
      if (!Array.isArray(value)) throw bad(at, `expected an array, got ${describe(value)}`);
      return value.map((item, i) => {
        const itemAt = `${at}[${i}]`;
        if (item === null) throw bad(itemAt, "null is not allowed in a list");
        if (field.listKind === "message") return initFromJson(field.message, item, itemAt);
        if (field.listKind === "enum") return enumFromJson(field.enum, item, itemAt);
        return scalarFromJson(field.scalar, item, itemAt);
      });
    }
    case "map":
      throw bad(at, "maps are not supported in this API");
  }
}

const base64 = /^[A-Za-z0-9+/]*={0,2}$|^[A-Za-z0-9_-]*={0,2}$/;

function scalarFromJson(type: ScalarType, value: JsonValue, at: string): unknown {
  switch (type) {
    case ScalarType.BYTES: {
      if (typeof value !== "string")
        throw bad(at, `expected a base64 string, got ${describe(value)}`);
      const text = stripDataUrl(value, at);
      if (!base64.test(text) || text.replace(/=+$/, "").length % 4 === 1) {
        throw bad(at, "is not valid base64");
      }
      const buf = Buffer.from(text, "base64");
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    case ScalarType.STRING:
      if (typeof value !== "string") throw bad(at, `expected a string, got ${describe(value)}`);
      return value;
    case ScalarType.BOOL:
      if (typeof value === "boolean") return value;
      if (value === "true") return true;
      if (value === "false") return false;
      throw bad(at, `expected true or false, got ${describe(value)}`);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT: {
      const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
      if (typeof n !== "number" || !Number.isFinite(n)) {
        throw bad(at, `expected a number, got ${describe(value)}`);
      }
      return n;
    }
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
    case ScalarType.UINT64:
    case ScalarType.FIXED64: {
      const unsigned = type === ScalarType.UINT64 || type === ScalarType.FIXED64;
      const n = integerFromJson(value, at, "a 64-bit integer");
      const [min, max] = unsigned ? [0n, 2n ** 64n - 1n] : [-(2n ** 63n), 2n ** 63n - 1n];
      if (n < min || n > max) throw bad(at, `${n} is out of the 64-bit range`);
      return n;
    }
    default: {
      const unsigned = type === ScalarType.UINT32 || type === ScalarType.FIXED32;
      const n = integerFromJson(value, at, "a 32-bit integer");
      const [min, max] = unsigned ? [0n, 2n ** 32n - 1n] : [-(2n ** 31n), 2n ** 31n - 1n];
      if (n < min || n > max) throw bad(at, `${n} is out of the 32-bit range`);
      return Number(n);
    }
  }
}

function integerFromJson(value: JsonValue, at: string, what: string): bigint {
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === "string" && /^-?\d{1,20}$/.test(value)) return BigInt(value);
  throw bad(at, `expected ${what}, got ${describe(value)}`);
}

function enumFromJson(desc: DescEnum, value: JsonValue, at: string): number {
  if (typeof value === "number" && desc.values.some((v) => v.number === value)) return value;
  const byName = typeof value === "string" ? desc.values.find((v) => v.name === value) : undefined;
  if (byName) return byName.number;
  throw bad(
    at,
    `expected one of ${desc.values.map((v) => v.name).join(", ")}, got ${describe(value)}`,
  );
}
