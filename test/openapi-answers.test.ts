/**
 * Real answers of the JSON Web API, success and error, validated with ajv against the generated
 * OpenAPI document (gen/openapi/openapi.json): body schema of the operation and status, and the
 * documented response headers (int64 values included: JSON numbers, as the contract says).
 */

import type { ErrorObject } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import generated from "../gen/openapi/openapi.json" with { type: "json" };
import { createOpenApiAjv, type OpenApiDoc } from "./support/openapi-ajv.js";
import { noFacePhoto, photo } from "./support/photos.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const doc = generated as OpenApiDoc;
const ajv = createOpenApiAjv(doc);
const maxRequestBytes = 1024 * 1024;
let server: TestServer;
let token: string;

interface Answer {
  name: string;
  operation: string;
  status: number;
  headers: Headers;
  body: unknown;
}
const answers: Answer[] = [];

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const image = (path: string) => ({ image: b64(photo(path)) });

/** The document's path template and method that serve a concrete request. */
function operationFor(method: string, path: string): { template: string; op: OpenApiDoc } {
  const pathname = path.split("?", 1)[0] ?? path;
  for (const [template, item] of Object.entries(doc.paths as Record<string, OpenApiDoc>)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`);
    const op = item[method.toLowerCase()];
    if (op && pattern.test(pathname)) return { template, op };
  }
  throw new Error(`the document has no operation for ${method} ${pathname}`);
}

async function call(
  name: string,
  method: string,
  path: string,
  body?: unknown,
  options: { auth?: boolean; raw?: string } = {},
): Promise<Answer> {
  const { op } = operationFor(method, path);
  const headers: Record<string, string> = { "reference-number": `ref-${answers.length}` };
  if (options.auth !== false) headers.authorization = `Bearer ${token}`;
  const text = options.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  if (text !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(server.baseUrl + path, {
    method,
    headers,
    ...(text === undefined ? {} : { body: text }),
  });
  const answer = {
    name,
    operation: op.operationId as string,
    status: res.status,
    headers: res.headers,
    body: await res.json(),
  };
  answers.push(answer);
  return answer;
}

/** JSON pointer segment escaping (RFC 6901). */
const seg = (s: string) => s.replaceAll("~", "~0").replaceAll("/", "~1");

/** Validation errors of an answer's body and headers against the document. */
function validate(answer: Answer): ErrorObject[] {
  const found = Object.entries(doc.paths as Record<string, OpenApiDoc>).flatMap(([t, item]) =>
    Object.entries(item).map(([m, op]) => ({ t, m, op: op as OpenApiDoc })),
  );
  const { t, m, op } = found.find((f) => f.op.operationId === answer.operation) ?? {};
  if (!op || !t || !m) throw new Error(`no operation ${answer.operation}`);
  const declared = op.responses[String(answer.status)];
  if (!declared) throw new Error(`${answer.operation} documents no ${answer.status} answer`);
  const response = declared.$ref
    ? { pointer: declared.$ref as string, value: resolve(declared.$ref) }
    : {
        pointer: `#/paths/${seg(t)}/${m}/responses/${answer.status}`,
        value: declared,
      };
  const check = ajv.compileAt(`${response.pointer}/content/application~1json/schema`);
  const errors: ErrorObject[] = check(answer.body) ? [] : [...(check.errors ?? [])];

  for (const [name, header] of Object.entries(response.value.headers as OpenApiDoc)) {
    const pointer = (header.$ref as string) ?? `${response.pointer}/headers/${seg(name)}`;
    const spec = resolve(pointer);
    const value = answer.headers.get(name);
    if (value === null) {
      if (spec.required)
        errors.push({ instancePath: `header ${name}`, message: "missing" } as never);
      continue;
    }
    const checkHeader = ajv.compileAt(`${pointer}/schema`);
    if (!checkHeader(value)) {
      for (const e of checkHeader.errors ?? [])
        errors.push({ ...e, instancePath: `header ${name}` });
    }
  }
  return errors;
}

function resolve(pointer: string): OpenApiDoc {
  return pointer
    .slice(2)
    .split("/")
    .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce((node: OpenApiDoc, key) => node[key], doc);
}

beforeAll(async () => {
  server = await startTestServer({ config: { limits: { maxRequestBytes } } });
  token = await server.token(server.clients.alice);
  const person = (n: string) => image(`people/person-01/0${n}.jpg`);

  await call("enroll", "POST", "/api/face/v1/enroll/7", [person("1"), person("2")]);
  await call("enroll without a face", "POST", "/api/face/v1/enroll/9", [
    { image: b64(await noFacePhoto()) },
  ]);
  await call("verify", "POST", "/api/face/v1/verify/7", {
    image: `data:image/jpeg;base64,${person("3").image}`,
  });
  await call("search", "POST", "/api/face/v1/search", {
    images: [person("4")],
    tags: [],
    topMatches: true,
  });
  await call("set tags", "PUT", "/api/face/v1/template/7/tags", ["vip", "staff"]);
  await call(
    "status with thumbnails",
    "GET",
    "/api/face/v1/template/status/7?downloadThumbnails=true",
  );
  await call("status of no template", "GET", "/api/face/v1/template/status/8");
  await call("delete", "DELETE", "/api/face/v1/template/7");

  await call("verify without template", "POST", "/api/face/v1/verify/8", person("3"));
  await call("bad class id", "GET", "/api/face/v1/template/status/abc");
  await call("bad base64", "POST", "/api/face/v1/enroll/7", [{ image: "!!!" }]);
  await call("search body not an object", "POST", "/api/face/v1/search", ["x"]);
  await call("no token", "GET", "/api/face/v1/template/status/7", undefined, { auth: false });
  await call("tags of no template", "PUT", "/api/face/v1/template/8/tags", ["x"]);
  await call("body over the limit", "POST", "/api/face/v1/enroll/7", undefined, {
    raw: JSON.stringify([{ image: "A".repeat(maxRequestBytes + 16) }]),
  });
});
afterAll(async () => server?.close());

describe("REST answers against the OpenAPI document", () => {
  it("made the calls it meant to: each operation, success and error answers", () => {
    expect(answers.map((a) => [a.name, a.status])).toEqual([
      ["enroll", 200],
      ["enroll without a face", 200],
      ["verify", 200],
      ["search", 200],
      ["set tags", 200],
      ["status with thumbnails", 200],
      ["status of no template", 200],
      ["delete", 200],
      ["verify without template", 404],
      ["bad class id", 400],
      ["bad base64", 400],
      ["search body not an object", 400],
      ["no token", 401],
      ["tags of no template", 404],
      ["body over the limit", 413],
    ]);
    const enroll = answers[0]?.body as Record<string, unknown>;
    expect(enroll.performedAction).toBe("NEW_TEMPLATE_CREATED");
    const failed = answers[1]?.body as Record<string, unknown>;
    expect(failed.performedAction).toBe("ENROLLMENT_FAILED");
    const status = answers[5]?.body as { thumbnails: unknown[] };
    expect(status.thumbnails.length).toBe(2);
  });

  it("every answer matches its documented schema and headers", () => {
    for (const answer of answers) {
      const errors = validate(answer);
      expect(errors, `${answer.name}: ${JSON.stringify(answer.body).slice(0, 300)}`).toEqual([]);
    }
  });

  it("rejects an answer that breaks the document (the check is not vacuous)", () => {
    const [verify] = answers.filter((a) => a.name === "verify");
    const broken = { ...(verify as Answer), body: { ...(verify?.body as object), extra: 1 } };
    expect(validate(broken).map((e) => e.keyword)).toContain("additionalProperties");
    const [notFound] = answers.filter((a) => a.status === 404);
    const wrongCode = { ...(notFound as Answer), body: { code: 3, message: "x" } };
    expect(validate(wrongCode).map((e) => e.keyword)).toContain("enum");
  });
});
