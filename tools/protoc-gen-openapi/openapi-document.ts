import type { DescField, DescMethod, DescService } from "@bufbuild/protobuf";
import { getSyntaxComments } from "@bufbuild/protoplugin";
import type { HttpBinding } from "./http-rules.js";
import {
  cleanComment,
  commentOf,
  createSchemaBuilder,
  type JsonSchema,
  targetOf,
} from "./json-schema.js";
import {
  adminKeyScheme,
  bearerScheme,
  encodingNotes,
  errorSchema,
  referenceNumberParameter,
  responseHeaders,
  serviceSecurity,
  statusTable,
} from "./rest-conventions.js";

const TIMESTAMP = "google.protobuf.Timestamp";

export interface DocumentOptions {
  title: string;
  version: string;
  /** Services with their methods' HTTP bindings, in declaration order. */
  services: readonly { service: DescService; bindings: ReadonlyMap<DescMethod, HttpBinding[]> }[];
}

type Json = Record<string, unknown>;

const jsonContent = (schema: JsonSchema) => ({ "application/json": { schema } });
const headerRefs = Object.fromEntries(
  Object.keys(responseHeaders).map((name) => [name, { $ref: `#/components/headers/${name}` }]),
);
const errorResponseName = (status: number) => `Error${status}`;

/**
 * Builds an OpenAPI 3.1 document for the REST bindings of the given services: one operation per
 * binding, schemas for every message and enum reachable from them, and the transport's shared
 * parts (error body and status table, headers, bearer scheme) as components.
 */
export function buildOpenApiDocument(options: DocumentOptions): Json {
  const schemas = createSchemaBuilder();
  const paths: Record<string, Record<string, Json>> = {};
  const operationIds = new Set<string>();

  for (const { service, bindings } of options.services) {
    for (const [method, list] of bindings) {
      list.forEach((binding, i) => {
        const base = `${service.name}_${method.name}${i === 0 ? "" : `_${i}`}`;
        const operationId = operationIds.has(base)
          ? `${service.typeName.replaceAll(".", "_")}_${method.name}${i === 0 ? "" : `_${i}`}`
          : base;
        operationIds.add(operationId);
        const item = paths[binding.path] ?? {};
        paths[binding.path] = item;
        if (item[binding.method]) {
          throw new Error(`two rules bind ${binding.method.toUpperCase()} ${binding.path}`);
        }
        item[binding.method] = operation(method, binding, operationId, schemas);
      });
    }
  }

  const errorResponses = Object.fromEntries(
    statusTable.map((row) => [
      errorResponseName(row.status),
      {
        description: `${row.codes.map(([n, name]) => `${name} (${n})`).join(", ")}: ${row.meaning}.`,
        headers: headerRefs,
        content: jsonContent({
          allOf: [
            { $ref: "#/components/schemas/Error" },
            { properties: { code: { enum: row.codes.map(([n]) => n) } } },
          ],
        }),
      },
    ]),
  );

  return {
    openapi: "3.1.0",
    info: { title: options.title, version: options.version, description: infoDescription() },
    tags: options.services.map(({ service }) => ({
      name: service.name,
      description: [serviceComment(service), `gRPC service \`${service.typeName}\`.`]
        .filter(Boolean)
        .join("\n\n"),
    })),
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas: { ...schemas.components(), Error: errorSchema },
      responses: errorResponses,
      headers: responseHeaders,
      parameters: { ReferenceNumber: referenceNumberParameter },
      securitySchemes: { bearer: bearerScheme, adminKey: adminKeyScheme },
    },
  };
}

function operation(
  method: DescMethod,
  binding: HttpBinding,
  operationId: string,
  schemas: ReturnType<typeof createSchemaBuilder>,
): Json {
  const input = method.input;
  const comment = commentOf(method);
  const pathTop = new Set(binding.pathFields.map((chain) => chain[0]));

  const parameters: Json[] = binding.pathFields.map((chain) => {
    const leaf = chain[chain.length - 1] as DescField;
    return parameter(chain.map((f) => f.jsonName).join("."), "path", schemas.field(leaf));
  });

  // Fields neither in the path nor in the body are query parameters (google.api.http), as far
  // as a query string can carry them: scalars, enums and lists of those.
  if (binding.body !== "*") {
    for (const f of input.fields) {
      if (pathTop.has(f) || f === binding.body) continue;
      const target = targetOf(f);
      // A Timestamp's JSON is one RFC 3339 string: a query string carries it.
      const timestamp = target?.kind === "message" && target.typeName === TIMESTAMP;
      if ((target?.kind === "message" && !timestamp) || f.fieldKind === "map") continue;
      parameters.push(parameter(f.jsonName, "query", schemas.field(f)));
    }
  }
  parameters.push({ $ref: "#/components/parameters/ReferenceNumber" });

  let requestBody: Json | undefined;
  if (binding.body === "*") {
    schemas.use(input, "request");
    const rest = input.fields.filter((f) => !pathTop.has(f));
    const schema =
      rest.length === input.fields.length
        ? schemas.ref(input)
        : {
            type: "object",
            properties: Object.fromEntries(rest.map((f) => [f.jsonName, schemas.field(f)])),
            additionalProperties: false,
          };
    requestBody = { required: true, content: jsonContent(schema) };
  } else if (binding.body) {
    const field = binding.body;
    const target = targetOf(field);
    if (target?.kind === "message") schemas.use(target, "request");
    requestBody = {
      required: true,
      description: `The JSON value of the request's \`${field.jsonName}\` field${
        field.fieldKind === "list" ? ", a bare JSON array" : ""
      }.`,
      content: jsonContent(schemas.field(field)),
    };
  }
  // Messages reachable from path and query fields travel in requests too.
  for (const f of input.fields) {
    const target = targetOf(f);
    if (target?.kind === "message" && binding.body !== "*" && f !== binding.body) {
      schemas.use(target, "request");
    }
  }

  let answer: JsonSchema;
  if (binding.responseBody) {
    const target = targetOf(binding.responseBody);
    if (target?.kind === "message") schemas.use(target, "response");
    answer = schemas.field(binding.responseBody);
  } else {
    schemas.use(method.output, "response");
    answer = schemas.ref(method.output);
  }

  const responses: Json = {
    "200": { description: "OK", headers: headerRefs, content: jsonContent(answer) },
  };
  for (const row of statusTable) {
    responses[String(row.status)] = {
      $ref: `#/components/responses/${errorResponseName(row.status)}`,
    };
  }

  return {
    operationId,
    tags: [method.parent.name],
    ...(comment ? { summary: firstSentence(comment) } : {}),
    description: [comment, `gRPC: \`/${method.parent.typeName}/${method.name}\`.`]
      .filter(Boolean)
      .join("\n\n"),
    parameters,
    ...(requestBody ? { requestBody } : {}),
    ...(serviceSecurity[method.parent.typeName]
      ? { security: [{ [serviceSecurity[method.parent.typeName] as string]: [] }] }
      : {}),
    responses,
  };
}

/** The service's comment; else the file's header comment when the file holds only this service. */
function serviceComment(service: DescService): string | undefined {
  const own = commentOf(service);
  if (own || service.file.services.length !== 1) return own;
  const header = getSyntaxComments(service.file).leading;
  return header ? cleanComment(header) : undefined;
}

/** A path or query parameter, its description lifted from the field's schema. */
function parameter(name: string, where: "path" | "query", fieldSchema: JsonSchema): Json {
  const { description, ...schema } = fieldSchema;
  return {
    name,
    in: where,
    required: where === "path",
    ...(description ? { description } : {}),
    schema,
  };
}

function firstSentence(text: string): string {
  const line = text.replace(/\s*\n\s*/g, " ");
  const end = line.search(/[.;:](\s|$)/);
  return end < 0 ? line : line.slice(0, end);
}

function infoDescription(): string {
  const rows = statusTable.map(
    (row) =>
      `| ${row.codes.map(([n, name]) => `${name} (${n})`).join(", ")} | ${row.status} | ${row.meaning} |`,
  );
  const headers = Object.entries(responseHeaders).map(
    ([name, h]) => `- \`${name}\`: ${h.description}`,
  );
  return [
    "The JSON Web API: each operation is an RPC of the gRPC service named in its tag, served on the same port; the same calls are available over gRPC, Connect and gRPC-Web.",
    `**Encoding.** ${encodingNotes}`,
    "**Authentication.** Every call needs `Authorization: Bearer <JWT>` (see the security scheme); the Admin API takes an admin key instead (`adminKey`).",
    '**Errors.** A failed call answers `{"code": <gRPC code>, "message": "...", "details": [...]}` (`details` only where there are any) with the HTTP status of this table:',
    ["| gRPC code | HTTP | meaning |", "|---|---|---|", ...rows].join("\n"),
    "A call that ran but could not do its work (for example an enrollment without a usable face) is a success: HTTP 200 with `status` and `errors` in the body.",
    `**Headers** on every answer, success or error:\n\n${headers.join("\n")}`,
  ].join("\n\n");
}
