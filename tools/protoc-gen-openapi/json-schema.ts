import { type DescEnum, type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import { getComments } from "@bufbuild/protoplugin";

/** A JSON Schema (2020-12, the OpenAPI 3.1 dialect) as plain JSON. */
export type JsonSchema = Record<string, unknown>;

/** Which way a message travels: in requests, in answers, or both. */
export type Direction = "request" | "response";

export interface SchemaBuilder {
  /** Records that `message` (and everything it contains) travels in `direction`. */
  use(message: DescMessage, direction: Direction): void;
  /** A `$ref` to the component schema of a message or enum (built by `components`). */
  ref(desc: DescMessage | DescEnum): JsonSchema;
  /** The schema of one field's JSON value, as a request or answer writes it. */
  field(field: DescField): JsonSchema;
  /** Component schemas of everything used, sorted by name. */
  components(): Record<string, JsonSchema>;
}

const refPrefix = "#/components/schemas/";

/** The JSON forms of the well-known types that have special JSON (proto3 JSON mapping). */
const wellKnown: Record<string, JsonSchema> = {
  "google.protobuf.Timestamp": {
    type: "string",
    format: "date-time",
    description: "An RFC 3339 date-time in UTC, e.g. `2026-01-31T12:00:00Z`.",
  },
  "google.protobuf.Duration": {
    type: "string",
    pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$",
    description: "Seconds with up to nine decimals and an `s` suffix, e.g. `1.5s`.",
  },
  "google.protobuf.FieldMask": {
    type: "string",
    description: "Comma-separated lowerCamelCase field paths.",
  },
  "google.protobuf.Empty": { type: "object", additionalProperties: false },
  "google.protobuf.Struct": { type: "object" },
  "google.protobuf.Value": { description: "Any JSON value." },
  "google.protobuf.ListValue": { type: "array" },
  "google.protobuf.Any": {
    type: "object",
    required: ["@type"],
    properties: { "@type": { type: "string" } },
  },
  "google.protobuf.DoubleValue": { type: ["number", "null"] },
  "google.protobuf.FloatValue": { type: ["number", "null"] },
  "google.protobuf.Int64Value": { type: ["integer", "null"], format: "int64" },
  "google.protobuf.UInt64Value": { type: ["integer", "null"], minimum: 0 },
  "google.protobuf.Int32Value": { type: ["integer", "null"], format: "int32" },
  "google.protobuf.UInt32Value": { type: ["integer", "null"], minimum: 0, maximum: 4294967295 },
  "google.protobuf.BoolValue": { type: ["boolean", "null"] },
  "google.protobuf.StringValue": { type: ["string", "null"] },
  "google.protobuf.BytesValue": { type: ["string", "null"], contentEncoding: "base64" },
};

/** A descriptor's leading comment as plain text, or undefined. */
export function commentOf(desc: Parameters<typeof getComments>[0]): string | undefined {
  const text = getComments(desc).leading;
  return text ? cleanComment(text) : undefined;
}

/** Comment text without the space after `//` and surrounding blank lines. */
export function cleanComment(text: string): string | undefined {
  const cleaned = text
    .split("\n")
    .map((line) => (line.startsWith(" ") ? line.slice(1) : line).trimEnd())
    .join("\n")
    .trim();
  return cleaned || undefined;
}

/** The message or enum a field refers to (directly, as list elements or as map values). */
export function targetOf(f: DescField): DescMessage | DescEnum | undefined {
  switch (f.fieldKind) {
    case "message":
      return f.message;
    case "enum":
      return f.enum;
    case "list":
      return f.listKind === "message" ? f.message : f.listKind === "enum" ? f.enum : undefined;
    case "map":
      return f.mapKind === "message" ? f.message : f.mapKind === "enum" ? f.enum : undefined;
    default:
      return undefined;
  }
}

function withDescription(schema: JsonSchema, description: string | undefined): JsonSchema {
  return description ? { ...schema, description } : schema;
}

function scalarSchema(type: ScalarType): JsonSchema {
  switch (type) {
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      // Numbers with exact digits on REST (wire contract), not proto3 JSON's strings.
      return { type: "integer", format: "int64" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "integer", minimum: 0 };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", minimum: 0, maximum: 4294967295 };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
  }
}

/**
 * Builds JSON Schemas for protobuf messages as facevault's REST layer writes and reads them:
 * proto3 JSON names, enums as names, 64-bit integers as numbers, bytes as base64. A message that
 * only ever travels in answers lists its implicit-presence fields as `required`, because answers
 * carry every such field, zero values included; one that travels in requests requires nothing,
 * as proto3 has no required fields.
 */
export function createSchemaBuilder(): SchemaBuilder {
  const directions = new Map<string, Set<Direction>>();
  const used = new Map<string, DescMessage | DescEnum>();

  function use(message: DescMessage, direction: Direction): void {
    const seen = directions.get(message.typeName);
    if (seen?.has(direction)) return;
    if (seen) seen.add(direction);
    else directions.set(message.typeName, new Set([direction]));
    used.set(message.typeName, message);
    if (wellKnown[message.typeName]) return;
    for (const field of message.fields) {
      const target = targetOf(field);
      if (target?.kind === "message") use(target, direction);
      else if (target) used.set(target.typeName, target);
    }
  }

  function ref(desc: DescMessage | DescEnum): JsonSchema {
    // Enums have no direction; messages are registered by use() before they are referenced.
    if (desc.kind === "enum") used.set(desc.typeName, desc);
    return { $ref: refPrefix + desc.typeName };
  }

  /** The schema of one value of a field (one element of a list, one value of a map). */
  function valueSchema(f: DescField): JsonSchema {
    const target = targetOf(f);
    if (target) return ref(target);
    return "scalar" in f && f.scalar !== undefined ? scalarSchema(f.scalar) : {};
  }

  function field(f: DescField): JsonSchema {
    let schema: JsonSchema;
    switch (f.fieldKind) {
      case "scalar":
        schema = scalarSchema(f.scalar);
        break;
      case "enum":
        schema = ref(f.enum);
        break;
      case "message":
        schema = ref(f.message);
        break;
      case "list":
        schema = { type: "array", items: valueSchema(f) };
        break;
      case "map":
        schema = { type: "object", additionalProperties: valueSchema(f) };
        break;
    }
    const notes = [commentOf(f)];
    if (f.oneof) {
      const others = f.oneof.fields.map((o) => `\`${o.jsonName}\``).join(", ");
      notes.push(`At most one of ${others} is set.`);
    }
    return withDescription(schema, notes.filter(Boolean).join("\n\n") || undefined);
  }

  function messageSchema(message: DescMessage): JsonSchema {
    const known = wellKnown[message.typeName];
    if (known) return known;
    const answerOnly = !directions.get(message.typeName)?.has("request");
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    const inRequests = !answerOnly;
    for (const f of message.fields) {
      properties[f.jsonName] = field(f);
      if (inRequests && "scalar" in f && f.scalar === ScalarType.BYTES) {
        const schema = properties[f.jsonName] as JsonSchema;
        const note = "Requests may also send a data URL (`data:image/jpeg;base64,...`).";
        schema.description = [schema.description, note].filter(Boolean).join(" ");
      }
      if (answerOnly && f.presence === FeatureSet_FieldPresence.IMPLICIT) required.push(f.jsonName);
    }
    return withDescription(
      {
        type: "object",
        properties,
        ...(required.length ? { required } : {}),
        additionalProperties: false,
      },
      commentOf(message),
    );
  }

  function enumSchema(desc: DescEnum): JsonSchema {
    const lines = desc.values.map((v) => {
      const comment = commentOf(v);
      return `- \`${v.name}\`${comment ? `: ${comment.replace(/\s*\n\s*/g, " ")}` : ""}`;
    });
    // Listing the values is worth it only when some of them say what they mean.
    const explained = desc.values.some((v) => commentOf(v));
    const description = [commentOf(desc), explained ? lines.join("\n") : undefined]
      .filter(Boolean)
      .join("\n\n");
    return {
      type: "string",
      enum: desc.values.map((v) => v.name),
      ...(description ? { description } : {}),
    };
  }

  return {
    use,
    ref,
    field,
    components() {
      const out: Record<string, JsonSchema> = {};
      for (const name of [...used.keys()].sort()) {
        const desc = used.get(name) as DescMessage | DescEnum;
        out[name] = desc.kind === "message" ? messageSchema(desc) : enumSchema(desc);
      }
      return out;
    },
  };
}
