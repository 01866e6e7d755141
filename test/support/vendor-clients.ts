/**
 * Clients compiled from the vendor-layout schema in test/fixtures/contract and nothing of
 * facevault's: grpc-js with @grpc/proto-loader, Python's C-core gRPC with grpc_tools stubs,
 * Connect (JSON and binary) and gRPC-Web from the descriptors `buf build` makes, and REST by
 * hand from the wire contract. Each takes and gives canonical proto3 JSON, so a table of calls
 * runs unchanged over all of them, and each calls either service of the contract (a call names
 * the one it means).
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import {
  createFileRegistry,
  type DescMessage,
  type DescService,
  fromBinary,
  fromJson,
  type JsonObject,
  type JsonValue,
  toJson,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { type CallOptions, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  compressionGzip,
  createConnectTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export const schemaDir = fileURLToPath(new URL("../fixtures/contract/", import.meta.url));
const pythonScript = fileURLToPath(new URL("./python-grpc-client.py", import.meta.url));
const bufBin = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
/** Debian's interpreter: python3-grpcio and python3-grpc-tools install for it. */
export const debianPython = "/usr/bin/python3";

/** The services of the contract, each with the schema file that declares it. */
const serviceFiles = {
  FaceRecognition: "bws_face_recognition.proto",
  BioIDWebService: "bws_web_service.proto",
} as const;
export type VendorService = keyof typeof serviceFiles;
const serviceNames = Object.keys(serviceFiles) as VendorService[];

export interface VendorCall {
  /** The service the RPC belongs to; FaceRecognition when absent. */
  service?: VendorService;
  /** RPC name as in the schema, e.g. "Enroll". */
  method: string;
  /** Canonical proto3 JSON of the request. */
  request: JsonObject;
  /** Bearer token; null sends none. */
  token: string | null;
  referenceNumber: string;
  /** Compress the request with gzip and accept gzip answers. */
  gzip: boolean;
  /** Client deadline, ms from the call. */
  timeoutMs?: number;
}

export interface VendorResult {
  /** gRPC code, 0 on success. */
  code: number;
  message: string;
  /** Canonical proto3 JSON of the answer, every implicit field included. */
  json?: JsonObject;
  /** Response headers and trailers together. */
  headers: Headers;
  /** REST: the HTTP status and the body as sent. */
  httpStatus?: number;
  text?: string;
  /** The content coding of the answer, where the client library exposes it. */
  responseEncoding?: string;
}

export interface VendorClient {
  name: string;
  run(calls: readonly VendorCall[]): Promise<VendorResult[]>;
  close(): void;
}

export interface VendorSchema {
  services: Record<VendorService, DescService>;
}

/** Builds the vendor-layout schema with buf into descriptors protobuf-es reads at run time. */
export function loadVendorSchema(): VendorSchema {
  const image = execFileSync(bufBin, ["build", schemaDir, "-o", "-"], { maxBuffer: 1 << 24 });
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, image));
  const service = (name: VendorService): DescService => {
    const found = registry.getService(`bioid.services.v1.${name}`);
    if (!found) throw new Error(`the vendor schema has no ${name} service`);
    return found;
  };
  return {
    services: Object.fromEntries(serviceNames.map((n) => [n, service(n)])) as Record<
      VendorService,
      DescService
    >,
  };
}

function serviceOf(call: VendorCall): VendorService {
  return call.service ?? "FaceRecognition";
}

function methodOf(schema: VendorSchema, call: VendorCall) {
  const method = schema.services[serviceOf(call)].methods.find((m) => m.name === call.method);
  if (!method) throw new Error(`no method ${serviceOf(call)}.${call.method}`);
  return method;
}

/** One value per service of the contract, e.g. a client object for each. */
function perService<T>(make: (service: VendorService) => T): Record<VendorService, T> {
  return Object.fromEntries(serviceNames.map((n) => [n, make(n)])) as Record<VendorService, T>;
}

/** Canonical JSON of an answer given in any JSON form the schema reads (numbers, camelCase). */
function canonical(schema: DescMessage, json: JsonValue): JsonObject {
  return toJson(schema, fromJson(schema, json), { alwaysEmitImplicit: true }) as JsonObject;
}

function merged(...sources: (Headers | Record<string, unknown> | undefined)[]): Headers {
  const out = new Headers();
  for (const source of sources) {
    const entries =
      source instanceof Headers ? [...source.entries()] : Object.entries(source ?? {});
    for (const [k, v] of entries) out.set(k, String(v));
  }
  return out;
}

function metadataOf(call: VendorCall): Record<string, string> {
  return {
    ...(call.token === null ? {} : { authorization: `Bearer ${call.token}` }),
    "reference-number": call.referenceNumber,
  };
}

/** Connect JSON, Connect binary or gRPC-Web on connect-node transports over HTTP/1.1. */
function connectClient(
  name: "connect-json" | "connect-binary" | "grpc-web",
  baseUrl: string,
  schema: VendorSchema,
): VendorClient {
  const transport = (gzip: boolean): Transport => {
    const compression = gzip
      ? {
          sendCompression: compressionGzip,
          acceptCompression: [compressionGzip],
          compressMinBytes: 0,
        }
      : { acceptCompression: [] };
    return name === "grpc-web"
      ? createGrpcWebTransport({
          baseUrl,
          httpVersion: "1.1",
          useBinaryFormat: true,
          ...compression,
        })
      : createConnectTransport({
          baseUrl,
          httpVersion: "1.1",
          useBinaryFormat: name === "connect-binary",
          ...compression,
        });
  };
  const transports = { gzip: transport(true), identity: transport(false) };
  const clients = perService((service) => ({
    gzip: createClient(schema.services[service], transports.gzip),
    identity: createClient(schema.services[service], transports.identity),
  }));
  return {
    name,
    async run(calls) {
      const results: VendorResult[] = [];
      for (const call of calls) {
        const method = methodOf(schema, call);
        const client = clients[serviceOf(call)][
          call.gzip ? "gzip" : "identity"
        ] as unknown as Record<string, (req: unknown, options: CallOptions) => Promise<never>>;
        let header: Headers | undefined;
        let trailer: Headers | undefined;
        const options: CallOptions = {
          headers: metadataOf(call),
          onHeader: (h) => {
            header = h;
          },
          onTrailer: (t) => {
            trailer = t;
          },
          ...(call.timeoutMs === undefined ? {} : { timeoutMs: call.timeoutMs }),
        };
        try {
          const response = await client[method.localName]?.(
            fromJson(method.input, call.request),
            options,
          );
          const headers = merged(header, trailer);
          results.push({
            code: 0,
            message: "",
            json: toJson(method.output, response as never, {
              alwaysEmitImplicit: true,
            }) as JsonObject,
            headers,
            ...encodingOf(headers),
          });
        } catch (err) {
          const e = ConnectError.from(err);
          results.push({
            code: e.code,
            message: e.rawMessage,
            headers: merged(header, trailer, e.metadata),
          });
        }
      }
      return results;
    },
    close() {},
  };
}

function encodingOf(headers: Headers): { responseEncoding?: string } {
  const value = headers.get("content-encoding") ?? headers.get("grpc-encoding");
  return value ? { responseEncoding: value } : {};
}

type ProtoLoaderCallback = (err: grpc.ServiceError | null, value?: unknown) => void;
type ProtoLoaderMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: ProtoLoaderCallback,
) => grpc.ClientUnaryCall;

/** grpc-js with @grpc/proto-loader, field names as the schema spells them (keepCase). */
function grpcJsClient(address: string, schema: VendorSchema): VendorClient {
  const definition = protoLoader.loadSync(Object.values(serviceFiles), {
    includeDirs: [schemaDir],
    keepCase: true,
    longs: String,
    enums: String,
    bytes: String,
    defaults: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    bioid: { services: { v1: Record<VendorService, grpc.ServiceClientConstructor> } };
  };
  const clients = perService((service) => {
    const Ctor = loaded.bioid.services.v1[service];
    return {
      identity: new Ctor(address, grpc.credentials.createInsecure()),
      // gzip as the channel's default compression, as many grpc-js callers configure it.
      gzip: new Ctor(address, grpc.credentials.createInsecure(), {
        "grpc.default_compression_algorithm": 2,
      }),
    };
  });
  return {
    name: "grpc-js",
    async run(calls) {
      const results: VendorResult[] = [];
      for (const call of calls) {
        const method = methodOf(schema, call);
        const client = clients[serviceOf(call)][
          call.gzip ? "gzip" : "identity"
        ] as unknown as Record<string, ProtoLoaderMethod>;
        const metadata = new grpc.Metadata();
        for (const [k, v] of Object.entries(metadataOf(call))) metadata.set(k, v);
        results.push(
          await new Promise<VendorResult>((resolve) => {
            let header: Record<string, unknown> = {};
            const pending = client[call.method]?.call(
              client,
              toSchemaNames(method.input, call.request),
              metadata,
              call.timeoutMs === undefined ? {} : { deadline: Date.now() + call.timeoutMs },
              (err, value) => {
                if (err) {
                  resolve({
                    code: err.code,
                    message: err.details,
                    headers: merged(header, err.metadata?.getMap()),
                  });
                } else {
                  resolve({
                    code: 0,
                    message: "",
                    json: canonical(method.output, toJsonNames(method.output, value as JsonObject)),
                    headers: merged(header, trailers),
                  });
                }
              },
            );
            let trailers: Record<string, unknown> = {};
            pending?.on("metadata", (m: grpc.Metadata) => {
              header = m.getMap();
            });
            pending?.on("status", (s: grpc.StatusObject) => {
              trailers = s.metadata.getMap();
            });
          }),
        );
      }
      return results;
    },
    close() {
      for (const pair of Object.values(clients)) {
        pair.identity.close();
        pair.gzip.close();
      }
    },
  };
}

/** Canonical JSON (JSON names) to proto-loader's object with the schema's own field names. */
function toSchemaNames(schema: DescMessage, json: JsonValue): unknown {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return json;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const field = schema.fields.find((f) => f.jsonName === key);
    if (!field) throw new Error(`no field ${key} in ${schema.typeName}`);
    const sub =
      field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")
        ? field.message
        : undefined;
    out[field.name] = sub
      ? Array.isArray(value)
        ? value.map((v) => toSchemaNames(sub, v))
        : toSchemaNames(sub, value)
      : value;
  }
  return out;
}

/** proto-loader's answer object back to JSON names; Timestamps to RFC 3339, nulls dropped. */
function toJsonNames(schema: DescMessage, value: JsonValue): JsonValue {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  if (schema.typeName === TimestampSchema.typeName) {
    const { seconds, nanos } = value as { seconds: string; nanos: number };
    return toJson(
      TimestampSchema,
      fromJson(TimestampSchema, `${new Date(Number(seconds) * 1000 + nanos / 1e6).toISOString()}`),
    );
  }
  const out: JsonObject = {};
  for (const [key, child] of Object.entries(value)) {
    const field = schema.fields.find((f) => f.name === key);
    if (!field || child === null) continue;
    const sub =
      field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")
        ? field.message
        : undefined;
    out[field.jsonName] = sub
      ? Array.isArray(child)
        ? child.map((c) => toJsonNames(sub, c as JsonValue))
        : toJsonNames(sub, child as JsonValue)
      : (child as JsonValue);
  }
  return out;
}

/** Python's C-core gRPC (Debian's python3-grpcio): one interpreter per batch of calls. */
function pythonClient(address: string, schema: VendorSchema): VendorClient {
  const stubs = mkdtempSync(join(tmpdir(), "facevault-py-stubs-"));
  execFileSync(debianPython, [
    "-m",
    "grpc_tools.protoc",
    `-I${schemaDir}`,
    `--python_out=${stubs}`,
    `--grpc_python_out=${stubs}`,
    "bws_shared.proto",
    ...Object.values(serviceFiles),
  ]);
  return {
    name: "python-grpcio",
    async run(calls) {
      const input = JSON.stringify({
        address,
        stubs,
        calls: calls.map((call) => ({
          // The module protoc makes of the service's file, e.g. bws_web_service_pb2(_grpc).
          module: serviceFiles[serviceOf(call)].replace(/\.proto$/, ""),
          service: serviceOf(call),
          method: call.method,
          requestType: methodOf(schema, call).input.name,
          request: call.request,
          metadata: metadataOf(call),
          gzip: call.gzip,
          timeoutSeconds: call.timeoutMs === undefined ? null : call.timeoutMs / 1000,
        })),
      });
      const output = await new Promise<string>((resolve, reject) => {
        const child = spawn(debianPython, [pythonScript], { stdio: ["pipe", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d;
        });
        child.stderr.on("data", (d: Buffer) => {
          err += d;
        });
        child.on("close", (code) =>
          code === 0 ? resolve(out) : reject(new Error(`python client exited ${code}: ${err}`)),
        );
        child.stdin.end(input);
      });
      const raw = JSON.parse(output) as {
        code: number;
        message: string;
        json?: JsonObject;
        headers: Record<string, unknown>;
        trailers: Record<string, unknown>;
      }[];
      return raw.map((r, i) => ({
        code: r.code,
        message: r.message,
        headers: merged(r.headers, r.trailers),
        ...(r.json === undefined
          ? {}
          : { json: canonical(methodOf(schema, calls[i] as VendorCall).output, r.json) }),
      }));
    },
    close() {},
  };
}

/** The JSON Web API, requests written by hand from the wire contract's REST table. */
function restClient(baseUrl: string, schema: VendorSchema): VendorClient {
  const route = (call: VendorCall): { verb: string; path: string; body?: unknown } => {
    const r = call.request as Record<string, JsonValue>;
    const id = String(r.classId ?? "0");
    switch (`${serviceOf(call)}.${call.method}`) {
      // The web service's requests are their JSON bodies as they are.
      case "BioIDWebService.LivenessDetection":
        return { verb: "POST", path: "/api/v1/livenessdetection", body: r };
      case "BioIDWebService.VideoLivenessDetection":
        return { verb: "POST", path: "/api/v1/videolivenessdetection", body: r };
      case "BioIDWebService.PhotoVerify":
        return { verb: "POST", path: "/api/v1/photoverify", body: r };
      case "FaceRecognition.Enroll":
        return { verb: "POST", path: `/api/face/v1/enroll/${id}`, body: r.images ?? [] };
      case "FaceRecognition.Verify":
        return { verb: "POST", path: `/api/face/v1/verify/${id}`, body: r.image ?? {} };
      case "FaceRecognition.Search":
        return { verb: "POST", path: "/api/face/v1/search", body: r };
      case "FaceRecognition.SetTemplateTags":
        return { verb: "PUT", path: `/api/face/v1/template/${id}/tags`, body: r.tags ?? [] };
      case "FaceRecognition.GetTemplateStatus":
        return {
          verb: "GET",
          path: `/api/face/v1/template/status/${id}${r.downloadThumbnails ? "?downloadThumbnails=true" : ""}`,
        };
      case "FaceRecognition.DeleteTemplate":
        return { verb: "DELETE", path: `/api/face/v1/template/${id}` };
      default:
        throw new Error(`no REST route for ${serviceOf(call)}.${call.method}`);
    }
  };
  return {
    name: "rest",
    async run(calls) {
      const results: VendorResult[] = [];
      for (const call of calls) {
        const { verb, path, body } = route(call);
        const headers: Record<string, string> = {
          ...metadataOf(call),
          "accept-encoding": call.gzip ? "gzip" : "identity",
          ...(call.timeoutMs === undefined
            ? {}
            : { "grpc-timeout": `${Math.ceil(call.timeoutMs)}m` }),
        };
        let payload: Uint8Array | string | undefined;
        if (body !== undefined) {
          headers["content-type"] = "application/json";
          payload = JSON.stringify(body);
          if (call.gzip) {
            payload = gzipSync(payload);
            headers["content-encoding"] = "gzip";
          }
        }
        const res = await fetch(baseUrl + path, {
          method: verb,
          headers,
          ...(payload === undefined ? {} : { body: payload }),
        });
        const text = await res.text();
        const encoding = res.headers.get("content-encoding");
        const common = {
          headers: res.headers,
          httpStatus: res.status,
          text,
          ...(encoding ? { responseEncoding: encoding } : {}),
        };
        if (res.status === 200) {
          // int64 comes as JSON numbers: quote the long ones so JSON.parse keeps every digit.
          const raw = JSON.parse(
            text.replace(/([:[,])(-?\d{16,})(?=[,}\]])/g, '$1"$2"'),
          ) as JsonValue;
          results.push({
            code: 0,
            message: "",
            json: canonical(methodOf(schema, call).output, raw),
            ...common,
          });
        } else {
          const error = JSON.parse(text) as { code: number; message: string };
          results.push({ code: error.code, message: error.message, ...common });
        }
      }
      return results;
    },
    close() {},
  };
}

export const vendorClientNames = [
  "grpc-js",
  "python-grpcio",
  "connect-json",
  "connect-binary",
  "grpc-web",
  "rest",
] as const;

/** Every client of the matrix against one server (`address` is host:port). */
export function createVendorClients(address: string, schema: VendorSchema): VendorClient[] {
  const baseUrl = `http://${address}`;
  return [
    grpcJsClient(address, schema),
    pythonClient(address, schema),
    connectClient("connect-json", baseUrl, schema),
    connectClient("connect-binary", baseUrl, schema),
    connectClient("grpc-web", baseUrl, schema),
    restClient(baseUrl, schema),
  ];
}
