import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create, fromBinary } from "@bufbuild/protobuf";
import { CodeGeneratorRequestSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, describe, expect, it } from "vitest";
import { httpStatusFromCode } from "../../src/rpc/error-mapping.js";
import { createOpenApiAjv, type OpenApiDoc as Doc } from "../../test/support/openapi-ajv.js";
import { createOpenApiPlugin } from "./openapi-plugin.js";
import { statusTable } from "./rest-conventions.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const buf = join(root, "node_modules/.bin/buf");
const committed = JSON.parse(readFileSync(join(root, "gen/openapi/openapi.json"), "utf8"));
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Validates a document against the OpenAPI 3.1 schema and compiles every schema in it. */
async function expectValidOpenApi31(doc: Doc): Promise<void> {
  const result = await new Validator().validate(structuredClone(doc));
  expect(result.errors ?? [], "OpenAPI 3.1 schema").toEqual([]);
  expect(result.valid).toBe(true);
  // The OpenAPI schema checks Schema Objects only loosely: compile them as JSON Schema 2020-12
  // (the 3.1 dialect), strictly, so that a misspelt keyword fails here.
  const ajv = createOpenApiAjv(doc);
  for (const name of Object.keys(doc.components.schemas)) {
    ajv.compileAt(`#/components/schemas/${name}`);
  }
}

/** Builds a module with `protos` (path -> source) plus google/api, returns its descriptors. */
function buildProtos(protos: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), "openapi-plugin-"));
  dirs.push(dir);
  writeFileSync(join(dir, "buf.yaml"), "version: v2\n");
  mkdirSync(join(dir, "google/api"), { recursive: true });
  for (const file of ["annotations.proto", "http.proto"]) {
    copyFileSync(join(root, "third_party/google/api", file), join(dir, "google/api", file));
  }
  for (const [path, source] of Object.entries(protos)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), source);
  }
  const image = execFileSync(buf, ["build", dir, "-o", "-#format=binpb"], { cwd: dir });
  return fromBinary(FileDescriptorSetSchema, image).file;
}

function runPlugin(protos: Record<string, string>, parameter = "") {
  const protoFile = buildProtos(protos);
  const res = createOpenApiPlugin().run(
    create(CodeGeneratorRequestSchema, {
      fileToGenerate: Object.keys(protos),
      parameter,
      protoFile,
    }),
  );
  return res.file.map((f) => ({ name: f.name, doc: JSON.parse(f.content) as Doc }));
}

const adminProto = `syntax = "proto3";
package acme.admin.v2;
import "google/api/annotations.proto";
import "google/protobuf/timestamp.proto";

// Operator tasks.
service Admin {
  // Renames a partition. Keeps its templates.
  rpc RenamePartition(RenamePartitionRequest) returns (Partition) {
    option (google.api.http) = {
      patch: "/admin/v2/partitions/{partition.id}"
      body: "*"
      additional_bindings {post: "/admin/v2/renames/{partition.id}" body: "*"}
    };
  }
  // Lists partitions.
  rpc ListPartitions(ListPartitionsRequest) returns (ListPartitionsResponse) {
    option (google.api.http) = {
      get: "/admin/v2/storages/{storage}/partitions"
      response_body: "partitions"
    };
  }
  // Not on REST.
  rpc Hidden(ListPartitionsRequest) returns (ListPartitionsResponse);
}

message Partition {
  // The number.
  int64 id = 1;
  string name = 2;
  google.protobuf.Timestamp created = 3;
  State state = 4;
  map<string, uint32> counts = 5;
  bytes seal = 6;
  oneof owner {
    string team = 7;
    string person = 8;
  }
}

// Lifecycle of a partition.
enum State {
  // Taking writes.
  OPEN = 0;
  CLOSED = 1;
}

message RenamePartitionRequest {
  Partition partition = 1;
  string reason = 2;
}

message ListPartitionsRequest {
  string storage = 1;
  repeated string names = 2;
  State state = 3;
  uint64 after = 4;
  Partition like = 5;
}

message ListPartitionsResponse {
  repeated Partition partitions = 1;
}
`;

describe("the committed OpenAPI document (gen/openapi/openapi.json)", () => {
  it("is valid OpenAPI 3.1 with valid JSON Schemas", async () => {
    await expectValidOpenApi31(committed);
  });

  it("describes the JSON Web API of the wire contract", () => {
    const op = (path: string, method: string) => committed.paths[path]?.[method];
    const schema = (name: string) => committed.components.schemas[`bioid.services.v1.${name}`];
    const body = (o: Doc) => o.requestBody?.content["application/json"].schema;
    const images = {
      type: "array",
      items: { $ref: "#/components/schemas/bioid.services.v1.ImageData" },
    };

    expect(Object.keys(committed.paths)).toEqual([
      "/api/v1/livenessdetection",
      "/api/v1/videolivenessdetection",
      "/api/v1/photoverify",
      "/api/face/v1/enroll/{classId}",
      "/api/face/v1/verify/{classId}",
      "/api/face/v1/search",
      "/api/face/v1/template/{classId}/tags",
      "/api/face/v1/template/status/{classId}",
      "/api/face/v1/template/{classId}",
    ]);
    // body: "images" and body: "tags" are bare JSON arrays; body: "*" the whole message.
    expect(body(op("/api/face/v1/enroll/{classId}", "post"))).toEqual(images);
    expect(body(op("/api/face/v1/template/{classId}/tags", "put"))).toMatchObject({
      type: "array",
      items: { type: "string" },
    });
    expect(body(op("/api/face/v1/search", "post"))).toEqual({
      $ref: "#/components/schemas/bioid.services.v1.FaceSearchRequest",
    });
    expect(body(op("/api/face/v1/verify/{classId}", "post"))).toEqual({
      $ref: "#/components/schemas/bioid.services.v1.ImageData",
    });
    // Path parameters by JSON name, the rest of a GET in the query.
    const status = op("/api/face/v1/template/status/{classId}", "get");
    expect(status.parameters.slice(0, 2)).toEqual([
      { name: "classId", in: "path", required: true, schema: { type: "integer", format: "int64" } },
      {
        name: "downloadThumbnails",
        in: "query",
        required: false,
        description: "Include the stored PNG thumbnails in the answer.",
        schema: { type: "boolean" },
      },
    ]);
    expect(op("/api/face/v1/template/{classId}", "delete").requestBody).toBeUndefined();

    // Encoding: enums as names, int64 as numbers, bytes as base64, Timestamp as RFC 3339.
    expect(schema("JobStatus")).toMatchObject({
      type: "string",
      enum: ["SUCCEEDED", "FAULTED", "CANCELLED"],
    });
    expect(schema("FaceTemplateStatus").properties.classId).toEqual({
      type: "integer",
      format: "int64",
    });
    expect(schema("ImageData").properties.image).toMatchObject({
      type: "string",
      contentEncoding: "base64",
    });
    expect(schema("ImageData").properties.image.description).toMatch(/data URL/);
    expect(committed.components.schemas["google.protobuf.Timestamp"]).toMatchObject({
      type: "string",
      format: "date-time",
    });
    // Answers carry every implicit field; requests need none.
    expect(schema("FaceEnrollmentResponse").required).toEqual([
      "status",
      "errors",
      "imageProperties",
      "performedAction",
      "enrolledImages",
    ]);
    expect(schema("ImageData").required).toBeUndefined();
    // Descriptions from the proto comments.
    expect(op("/api/face/v1/enroll/{classId}", "post").summary).toBe(
      "Creates, updates or upgrades the template of one class from images of one person",
    );
    expect(schema("Face").properties.leftEye.description).toMatch(/subject's left eye/);

    // Errors, status table, headers, bearer.
    const enroll = op("/api/face/v1/enroll/{classId}", "post");
    expect(Object.keys(enroll.responses)).toEqual([
      "200",
      ...statusTable.map((r) => String(r.status)),
    ]);
    expect(
      committed.components.responses.Error413.content["application/json"].schema.allOf[1],
    ).toEqual({ properties: { code: { enum: [8] } } });
    expect(Object.keys(enroll.responses["200"].headers)).toEqual([
      "jobid",
      "bws-version",
      "reference-number",
      "date",
    ]);
    expect(committed.components.schemas.Error.required).toEqual(["code", "message"]);
    expect(committed.components.securitySchemes.bearer).toMatchObject({
      type: "http",
      scheme: "bearer",
      bearerFormat: "JWT",
    });
    expect(committed.security).toEqual([{ bearer: [] }]);
  });

  it("has the server's gRPC code to HTTP status table", () => {
    const documented = new Map(statusTable.flatMap((r) => r.codes.map(([n]) => [n, r.status])));
    for (let code = Code.Canceled; code <= Code.Unauthenticated; code++) {
      expect(documented.get(code), `code ${code}`).toBe(httpStatusFromCode(code));
    }
    expect(documented.size).toBe(16);
  });
});

describe("protoc-gen-openapi on another service", () => {
  const [file] = runPlugin({ "acme/admin/v2/admin.proto": adminProto }, "title=Acme admin");
  const doc = file?.doc as Doc;

  it("writes one valid document named by the options", async () => {
    expect(file?.name).toBe("openapi.json");
    expect(doc.info).toMatchObject({ title: "Acme admin", version: "v2" });
    await expectValidOpenApi31(doc);
  });

  it("maps nested path fields, additional bindings, response_body and the query", () => {
    expect(Object.keys(doc.paths)).toEqual([
      "/admin/v2/partitions/{partition.id}",
      "/admin/v2/renames/{partition.id}",
      "/admin/v2/storages/{storage}/partitions",
    ]);
    const rename = doc.paths["/admin/v2/partitions/{partition.id}"].patch;
    expect(rename.operationId).toBe("Admin_RenamePartition");
    expect(rename.summary).toBe("Renames a partition");
    expect(rename.parameters[0]).toMatchObject({ name: "partition.id", in: "path" });
    expect(doc.paths["/admin/v2/renames/{partition.id}"].post.operationId).toBe(
      "Admin_RenamePartition_1",
    );
    const list = doc.paths["/admin/v2/storages/{storage}/partitions"].get;
    expect(list.parameters.map((p: Doc) => p.name ?? p.$ref)).toEqual([
      "storage",
      "names",
      "state",
      "after",
      "#/components/parameters/ReferenceNumber",
    ]);
    expect(list.parameters[1].schema).toEqual({ type: "array", items: { type: "string" } });
    expect(list.responses["200"].content["application/json"].schema).toMatchObject({
      type: "array",
      items: { $ref: "#/components/schemas/acme.admin.v2.Partition" },
    });
    expect(doc.paths["/admin/v2/hidden"]).toBeUndefined();
  });

  it("describes maps, oneofs, enums and well-known types", () => {
    const partition = doc.components.schemas["acme.admin.v2.Partition"];
    expect(partition.properties.counts).toEqual({
      type: "object",
      additionalProperties: { type: "integer", minimum: 0, maximum: 4294967295 },
    });
    expect(partition.properties.team.description).toBe("At most one of `team`, `person` is set.");
    expect(partition.properties.created).toEqual({
      $ref: "#/components/schemas/google.protobuf.Timestamp",
    });
    // Partition travels in requests too: nothing required, data URLs accepted for bytes.
    expect(partition.required).toBeUndefined();
    expect(partition.properties.seal.description).toMatch(/data URL/);
    expect(doc.components.schemas["acme.admin.v2.State"]).toEqual({
      type: "string",
      enum: ["OPEN", "CLOSED"],
      description: "Lifecycle of a partition.\n\n- `OPEN`: Taking writes.\n- `CLOSED`",
    });
    expect(doc.tags).toEqual([
      { name: "Admin", description: "Operator tasks.\n\ngRPC service `acme.admin.v2.Admin`." },
    ]);
  });

  it("refuses path templates the REST layer cannot serve, naming the RPC", () => {
    const proto = adminProto.replace("{storage}/partitions", "{storage=**}/partitions");
    expect(() => runPlugin({ "acme/admin/v2/admin.proto": proto })).toThrow(
      /acme\.admin\.v2\.Admin\.ListPartitions \(get \/admin\/v2\/storages\/\{storage=\*\*\}\/partitions\): only \{field\} and \{field=\*\} variables/,
    );
  });

  it("writes nothing for files without HTTP rules and refuses unknown options", () => {
    const plain = adminProto.replace(
      / \{\n\s*option \(google\.api\.http\)[\s\S]*?\n {4}\};\n {2}\}/g,
      ";",
    );
    expect(runPlugin({ "acme/admin/v2/admin.proto": plain })).toEqual([]);
    expect(() => runPlugin({ "acme/admin/v2/admin.proto": adminProto }, "titel=x")).toThrow(
      /unknown option 'titel'/,
    );
  });
});
