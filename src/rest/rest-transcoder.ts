import {
  create,
  type DescField,
  type DescMessage,
  type DescMethod,
  getOption,
  hasOption,
  type JsonValue,
  ScalarType,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  createHandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type ServiceImplSpec,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { http } from "../../gen/google/api/annotations_pb.js";
import { FacevaultError, isFacevaultError } from "../errors.js";
import { readBody, responseCompression } from "../http/body-reader.js";
import type { NodeRequest, NodeResponse } from "../http/node-types.js";
import type { Job } from "../rpc/context-values.js";
import { codeFromKind, toConnectError } from "../rpc/error-mapping.js";
import { type PathTemplate, parsePathTemplate } from "./path-template.js";
import { sendJsonText, sendRestError } from "./rest-error.js";
import { parseJsonBody, restRequestFromJson, restResponseText } from "./rest-json.js";

/** One REST route read from a method's `google.api.http` option. */
export interface RestRoute {
  httpMethod: string;
  path: PathTemplate;
  /** `*` (the whole body is the request), a field name, or undefined for no body. */
  body: string | undefined;
  method: DescMethod;
  spec: Extract<MethodImplSpec, { kind: "unary" }>;
}

export interface RestTranscoderOptions {
  /** Service implementations; their unary methods with an http rule become routes. */
  services: readonly ServiceImplSpec[];
  /** The same interceptors the Connect router runs, in the same order. */
  interceptors: readonly Interceptor[];
  /** Largest body accepted, in bytes, as sent and after decompression. */
  maxRequestBytes: number;
  /** Deepest JSON nesting accepted in a body. */
  maxJsonDepth: number;
  /** Responses at least this large are compressed when the client accepts it, in bytes. */
  compressMinBytes: number;
  /** Aborted when the server shuts down; running calls see it on their signal. */
  shutdownSignal?: AbortSignal;
}

export interface RestTranscoder {
  readonly routes: readonly RestRoute[];
  /**
   * Serves `req` when its path is a REST route: the call, or 405 with `Allow` when the path is
   * known but not with this HTTP method. Resolves false (nothing sent) for any other path.
   */
  handle(req: NodeRequest, res: NodeResponse, job: Job, values: ContextValues): Promise<boolean>;
}

/**
 * The JSON Web API. Routes come from the `google.api.http` annotations of the generated
 * descriptors at start-up (no second code generator). A request becomes the request message
 * (protobuf-es `fromJson`, see rest-json.ts) and runs through the same interceptors and the
 * same implementation as a gRPC or Connect call, so authentication, deadlines, bookkeeping and
 * error mapping are shared; the response message is written as REST JSON.
 */
export function createRestTranscoder(options: RestTranscoderOptions): RestTranscoder {
  const routes: RestRoute[] = [];
  for (const service of options.services) {
    for (const spec of Object.values(service.methods)) {
      if (spec.kind !== "unary" || !hasOption(spec.method, http)) continue;
      const rule = getOption(spec.method, http);
      const { case: verb, value } = rule.pattern;
      if (verb === undefined || verb === "custom") continue;
      routes.push({
        httpMethod: verb.toUpperCase(),
        path: parsePathTemplate(value),
        body: rule.body === "" ? undefined : rule.body,
        method: spec.method,
        spec,
      });
    }
  }

  async function call(
    req: NodeRequest,
    res: NodeResponse,
    route: RestRoute,
    params: Record<string, string>,
    job: Job,
    values: ContextValues,
  ): Promise<void> {
    const { method } = route;
    job.method = method.name;
    job.protocol = "rest";
    let message: UnaryRequest["message"];
    let timeoutMs: number | undefined;
    try {
      timeoutMs = parseTimeout(req.headers["grpc-timeout"]);
      const json = await requestJson(req, route, params, options);
      message = restRequestFromJson(method.input, json);
    } catch (err) {
      if (!isFacevaultError(err)) throw err;
      // The message was never read: answered here, logged by the server, no bookkeeping record.
      job.outcome = codeFromKind(err.kind);
      // The rest of an oversized body is not read: close the connection after answering.
      const close = job.outcome === Code.ResourceExhausted ? { connection: "close" } : undefined;
      return sendRestError(res, job.outcome, err.message, close ? { headers: close } : {});
    }

    const gone = new AbortController();
    res.once("close", () => {
      if (!res.writableFinished)
        gone.abort(new ConnectError("the client went away", Code.Canceled));
    });
    const url = `http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`;
    const header = webHeaders(req.headers);
    const ctx = createHandlerContext({
      service: method.parent,
      method,
      protocolName: "rest",
      requestMethod: req.method ?? "POST",
      url,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      requestSignal: gone.signal,
      ...(options.shutdownSignal ? { shutdownSignal: options.shutdownSignal } : {}),
      requestHeader: header,
      contextValues: values,
    });
    const next = async (r: UnaryRequest): Promise<UnaryResponse> => ({
      stream: false,
      service: method.parent,
      method: r.method,
      header: ctx.responseHeader,
      trailer: ctx.responseTrailer,
      message: create(method.output, await route.spec.impl(r.message as never, ctx)),
    });
    const run = options.interceptors.reduceRight(
      (inner, interceptor) => interceptor(inner as never) as typeof inner,
      next,
    );
    try {
      const response = await run({
        stream: false,
        service: method.parent,
        method: method as UnaryRequest["method"],
        requestMethod: req.method ?? "POST",
        url,
        signal: ctx.signal,
        header,
        contextValues: values,
        message,
      });
      const text = restResponseText(method.output, response.message as never);
      await sendCompressed(req, res, text, headerRecord(response.header, response.trailer));
    } catch (err) {
      const error = toConnectError(err, job.jobId);
      sendRestError(res, error.code, error.rawMessage, { headers: headerRecord(error.metadata) });
    } finally {
      ctx.abort();
    }
  }

  async function sendCompressed(
    req: NodeRequest,
    res: NodeResponse,
    text: string,
    headers: Record<string, string>,
  ): Promise<void> {
    const codec =
      Buffer.byteLength(text) >= options.compressMinBytes
        ? responseCompression(req.headers["accept-encoding"])
        : undefined;
    if (!codec) return sendJsonText(res, 200, text, headers);
    const body = await codec.compress(Buffer.from(text));
    sendJsonText(res, 200, body, {
      ...headers,
      "content-encoding": codec.name,
      vary: "accept-encoding",
    });
  }

  return {
    routes,
    async handle(req, res, job, values) {
      const pathname = (req.url ?? "/").split("?", 1)[0] ?? "/";
      const allowed = new Set<string>();
      for (const route of routes) {
        const params = route.path.match(pathname);
        if (!params) continue;
        if (route.httpMethod === req.method) {
          await call(req, res, route, params, job, values);
          return true;
        }
        allowed.add(route.httpMethod);
      }
      if (allowed.size === 0) return false;
      const allow = [...allowed].join(", ");
      sendRestError(
        res,
        Code.Unimplemented,
        `${req.method} is not allowed on ${pathname}; use ${allow}`,
        {
          status: 405,
          headers: { allow },
        },
      );
      return true;
    },
  };
}

/** Assembles the JSON of the request message from the body, path variables and query. */
async function requestJson(
  req: NodeRequest,
  route: RestRoute,
  params: Record<string, string>,
  options: RestTranscoderOptions,
): Promise<JsonValue> {
  const input = route.method.input;
  let json: Record<string, JsonValue> = {};
  if (route.body !== undefined) {
    const text = Buffer.from(await readBody(req, options.maxRequestBytes)).toString("utf8");
    if (text.trim() === "") {
      throw new FacevaultError("invalid_argument", "body: is empty; JSON is expected", {
        field: "body",
      });
    }
    const bodyField = route.body === "*" ? undefined : fieldByName(input, route.body);
    const body = parseJsonBody(text, options.maxJsonDepth, bodyField?.jsonName);
    if (route.body === "*") {
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        throw new FacevaultError("invalid_argument", "body: must be a JSON object", {
          field: "body",
        });
      }
      json = body;
    } else {
      json[bodyField?.jsonName ?? route.body] = body;
    }
  }
  for (const [name, value] of Object.entries(params)) {
    json[fieldByName(input, name)?.jsonName ?? name] = value;
  }
  const query = new URL(req.url ?? "/", "http://localhost").searchParams;
  for (const key of new Set(query.keys())) {
    const field = fieldByName(input, key);
    // Unknown parameters are ignored, as ASP.NET Core's transcoding (BWS's) does.
    if (!field || field.jsonName in json) continue;
    const values = query.getAll(key);
    json[field.jsonName] = field.fieldKind === "list" ? values : queryScalar(field, values);
  }
  return json;
}

function queryScalar(field: DescField, values: string[]): JsonValue {
  const value = values[values.length - 1] ?? "";
  if (field.fieldKind === "scalar" && field.scalar === ScalarType.BOOL) {
    // A bare `?downloadThumbnails` means true, as HTML forms and people write it.
    if (value === "" || value === "true") return true;
    if (value === "false") return false;
  }
  return value;
}

function fieldByName(message: DescMessage, name: string): DescField | undefined {
  return message.fields.find((f) => f.name === name || f.jsonName === name);
}

/**
 * A REST caller may set a deadline the way gRPC callers do, with a `grpc-timeout` header
 * (`<digits><H|M|S|m|u|n>`). Values beyond the server's own limit are cut to it later.
 */
function parseTimeout(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d{1,8})([HMSmun])$/.exec(String(value));
  if (!match) {
    throw new FacevaultError("invalid_argument", `grpc-timeout: '${value}' is not a gRPC timeout`, {
      field: "grpc-timeout",
    });
  }
  const unitMs = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 }[match[2] as "H"];
  return Number(match[1]) * unitMs;
}

/** Node request headers as Web Headers, HTTP/2 pseudo-headers left out. */
function webHeaders(headers: NodeRequest["headers"]): Headers {
  const out = new Headers();
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith(":") || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(key, v);
  }
  return out;
}

function headerRecord(...sources: Headers[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const source of sources) {
    source.forEach((value, key) => {
      out[key] = value;
    });
  }
  return out;
}
