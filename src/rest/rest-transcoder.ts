import {
  type DescField,
  type DescMessage,
  fromBinary,
  getOption,
  hasOption,
  type JsonValue,
  ScalarType,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { Code, type ContextValues } from "@connectrpc/connect";
import {
  createAsyncIterable,
  readAllBytes,
  type UniversalHandler,
} from "@connectrpc/connect/protocol";
import { codeFromString } from "@connectrpc/connect/protocol-connect";
import { universalRequestFromNodeRequest } from "@connectrpc/connect-node";
import { http } from "../../gen/google/api/annotations_pb.js";
import { FacevaultError } from "../errors.js";
import { readBody } from "../http/body-reader.js";
import { parseJsonBody } from "../http/json-body.js";
import type { NodeRequest, NodeResponse } from "../http/node-types.js";
import { codeFromKind } from "../rpc/error-mapping.js";
import { messageFromJson } from "./json-to-message.js";
import { type PathTemplate, parsePathTemplate } from "./path-template.js";
import { sendJson, sendRestError } from "./rest-error.js";

/** One REST route read from a method's `google.api.http` option. */
export interface RestRoute {
  httpMethod: string;
  path: PathTemplate;
  /** `*` (whole body is the request), a field name, or undefined for no body. */
  body: string | undefined;
  handler: UniversalHandler;
}

export interface RestMatch {
  route: RestRoute;
  params: Record<string, string>;
}

export interface RestTranscoderOptions {
  /** The Connect router's handlers; those whose method has an http rule become routes. */
  handlers: readonly UniversalHandler[];
  /** Largest body accepted, in bytes (the body as sent, base64 and all). */
  maxRequestBytes: number;
}

export interface RestTranscoder {
  readonly routes: readonly RestRoute[];
  /**
   * The route for a request, undefined when no template matches the path, or "method" when a
   * template matches but with another HTTP method (405).
   */
  match(httpMethod: string, pathname: string): RestMatch | "method" | undefined;
  /** Serves a matched request by dispatching into the same handler as the other protocols. */
  handle(
    req: NodeRequest,
    res: NodeResponse,
    match: RestMatch,
    contextValues: ContextValues,
  ): Promise<RestOutcome>;
}

/** What happened, for bookkeeping of calls rejected before they reach the handler. */
export interface RestOutcome {
  code: number;
}

/**
 * The JSON Web API: routes come from the `google.api.http` annotations of the generated
 * descriptors at start-up (no second code generator). A REST request is turned into the binary
 * request message and handed to the Connect handler of its RPC, so authentication, deadlines,
 * headers and error mapping are the same as for gRPC and Connect callers.
 */
export function createRestTranscoder(options: RestTranscoderOptions): RestTranscoder {
  const routes: RestRoute[] = [];
  for (const handler of options.handlers) {
    if (!hasOption(handler.method, http)) continue;
    const rule = getOption(handler.method, http);
    const { case: verb, value } = rule.pattern;
    if (verb === undefined || verb === "custom") continue;
    routes.push({
      httpMethod: verb.toUpperCase(),
      path: parsePathTemplate(value),
      body: rule.body === "" ? undefined : rule.body,
      handler,
    });
  }

  async function handle(
    req: NodeRequest,
    res: NodeResponse,
    { route, params }: RestMatch,
    contextValues: ContextValues,
  ): Promise<RestOutcome> {
    const input = route.handler.method.input;
    const output = route.handler.method.output;
    let requestBytes: Uint8Array;
    try {
      const json = await requestJson(req, route, params, input, options.maxRequestBytes);
      requestBytes = toBinary(input, messageFromJson(input, json));
    } catch (err) {
      if (!(err instanceof FacevaultError)) throw err;
      const code = codeFromKind(err.kind);
      if (code === Code.ResourceExhausted) {
        // The rest of an oversized body is not read: close the connection after answering.
        res.setHeader("connection", "close");
      }
      sendRestError(res, code, err.message);
      return { code };
    }

    const base = universalRequestFromNodeRequest(req, res, null, contextValues);
    const header = new Headers({
      "content-type": "application/proto",
      "connect-protocol-version": "1",
    });
    const authorization = req.headers.authorization;
    if (authorization) header.set("authorization", authorization);
    const uRes = await route.handler({
      ...base,
      method: "POST",
      header,
      body: createAsyncIterable([requestBytes]),
    });
    const body = uRes.body
      ? await readAllBytes(uRes.body, Number.MAX_SAFE_INTEGER)
      : new Uint8Array();
    if (uRes.status === 200) {
      const message = fromBinary(output, body);
      sendJson(res, 200, toJson(output, message, { alwaysEmitImplicit: true }));
      return { code: 0 };
    }
    const error = parseConnectError(body);
    sendRestError(res, error.code, error.message, error.details);
    return { code: error.code };
  }

  return {
    routes,
    match(httpMethod, pathname) {
      let methodMismatch = false;
      for (const route of routes) {
        const params = route.path.match(pathname);
        if (!params) continue;
        if (route.httpMethod === httpMethod) return { route, params };
        methodMismatch = true;
      }
      return methodMismatch ? "method" : undefined;
    },
    handle,
  };
}

/** Assembles the proto3 JSON of the request from body, path variables and query parameters. */
async function requestJson(
  req: NodeRequest,
  route: RestRoute,
  params: Record<string, string>,
  input: DescMessage,
  maxRequestBytes: number,
): Promise<JsonValue> {
  let json: Record<string, JsonValue> = {};
  if (route.body !== undefined) {
    const text = (await readBody(req, maxRequestBytes)).toString("utf8");
    if (text.trim() === "") {
      throw new FacevaultError("invalid_argument", "request body is empty; JSON is expected", {
        field: "body",
      });
    }
    const body = parseJsonBody(text);
    if (route.body === "*") {
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        throw new FacevaultError("invalid_argument", "request body must be a JSON object", {
          field: "body",
        });
      }
      json = body;
    } else {
      const field = fieldByName(input, route.body);
      json[field?.jsonName ?? route.body] = body;
    }
  }
  for (const [name, value] of Object.entries(params)) {
    json[fieldByName(input, name)?.jsonName ?? name] = value;
  }
  const query = new URL(req.url ?? "/", "http://localhost").searchParams;
  for (const key of new Set(query.keys())) {
    const field = fieldByName(input, key);
    if (!field) {
      throw new FacevaultError("invalid_argument", `unknown query parameter '${key}'`, {
        field: key,
      });
    }
    if (field.jsonName in json) continue; // path and body win over the query
    const values = query.getAll(key);
    json[field.jsonName] = field.fieldKind === "list" ? values : queryScalar(field, values);
  }
  return json;
}

function queryScalar(field: DescField, values: string[]): JsonValue {
  const value = values[values.length - 1] ?? "";
  // A bare `?downloadThumbnails` means true, as HTML forms and people write it.
  if (field.fieldKind === "scalar" && field.scalar === ScalarType.BOOL && value === "") return true;
  return value;
}

function fieldByName(message: DescMessage, name: string): DescField | undefined {
  return message.fields.find((f) => f.name === name || f.jsonName === name);
}

/** Reads a Connect unary error body: `{"code": "not_found", "message": ..., "details": [...]}`. */
function parseConnectError(body: Uint8Array): { code: Code; message: string; details?: unknown[] } {
  try {
    const json = JSON.parse(Buffer.from(body).toString("utf8")) as {
      code?: string;
      message?: string;
      details?: unknown[];
    };
    const code = (json.code && codeFromString(json.code)) || Code.Unknown;
    return {
      code,
      message: json.message ?? "",
      ...(Array.isArray(json.details) ? { details: json.details } : {}),
    };
  } catch {
    return { code: Code.Internal, message: "internal error" };
  }
}
