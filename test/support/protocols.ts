/**
 * One call interface over every protocol facevault speaks, so that a table of cases can run
 * unchanged over grpc-js, Connect JSON, Connect binary, gRPC-Web and the JSON Web API. REST
 * requests are written here by hand from the wire contract (not derived from the server's
 * transcoder) so that the test checks the paths and bodies a REST caller really sends.
 */

import { fromJson, type JsonObject, type MessageInitShape, toJson } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { createConnectClient, createGrpcJsClient } from "@facevault/client";
import {
  BioIDWebService,
  type LivenessDetectionRequestSchema,
  type PhotoVerifyRequestSchema,
  type VideoLivenessDetectionRequestSchema,
} from "../../gen/bioid/services/v1/bws_pb.js";
import {
  type DeleteTemplateRequestSchema,
  type FaceEnrollmentRequestSchema,
  FaceRecognition,
  type FaceSearchRequestSchema,
  type FaceTemplateStatusRequestSchema,
  type FaceVerificationRequestSchema,
  type SetTemplateTagsRequestSchema,
} from "../../gen/bioid/services/v1/face_recognition_pb.js";
import type { TestServer } from "./test-server.js";

export const protocolNames = [
  "grpc-js",
  "connect-json",
  "connect-binary",
  "grpc-web",
  "rest",
] as const;
export type ProtocolName = (typeof protocolNames)[number];

export interface Requests {
  enroll: MessageInitShape<typeof FaceEnrollmentRequestSchema>;
  verify: MessageInitShape<typeof FaceVerificationRequestSchema>;
  search: MessageInitShape<typeof FaceSearchRequestSchema>;
  setTemplateTags: MessageInitShape<typeof SetTemplateTagsRequestSchema>;
  getTemplateStatus: MessageInitShape<typeof FaceTemplateStatusRequestSchema>;
  deleteTemplate: MessageInitShape<typeof DeleteTemplateRequestSchema>;
  livenessDetection: MessageInitShape<typeof LivenessDetectionRequestSchema>;
  videoLivenessDetection: MessageInitShape<typeof VideoLivenessDetectionRequestSchema>;
  photoVerify: MessageInitShape<typeof PhotoVerifyRequestSchema>;
}
export type MethodName = keyof Requests;

export interface CallOptions {
  /** Bearer token; null sends no Authorization header at all. */
  token: string | null;
  referenceNumber?: string;
  /** Raw Authorization header value, overriding `token`. */
  authorization?: string;
}

export interface CallResult {
  /** gRPC code, 0 on success. */
  code: number;
  message: string;
  /** The response as proto3 JSON with every field (REST's own form), on success. */
  json?: JsonObject;
  /** Response headers and trailers together (gRPC sends some headers as trailers on errors). */
  meta: Headers;
  /** REST only. */
  httpStatus?: number;
  /** REST only: the response body as sent. */
  text?: string;
}

export interface ProtocolClient {
  name: ProtocolName;
  call<M extends MethodName>(
    method: M,
    request: Requests[M],
    options: CallOptions,
  ): Promise<CallResult>;
  close(): void;
}

const methods = { ...FaceRecognition.method, ...BioIDWebService.method };
/** The BioIDWebService methods; the others are FaceRecognition's. */
const webMethods = new Set<string>(Object.keys(BioIDWebService.method));

function merge(...sources: (Headers | undefined)[]): Headers {
  const out = new Headers();
  for (const s of sources) {
    s?.forEach((v, k) => {
      out.set(k, v);
    });
  }
  return out;
}

function headersFor(options: CallOptions): Record<string, string> {
  const h: Record<string, string> = {};
  const auth =
    options.authorization ?? (options.token === null ? undefined : `Bearer ${options.token}`);
  if (auth !== undefined) h.authorization = auth;
  if (options.referenceNumber !== undefined) h["reference-number"] = options.referenceNumber;
  return h;
}

/** One call through a typed client (Connect's or facevault's grpc-js), headers and trailers kept. */
async function typedCall(
  clients: { faces: Record<string, unknown>; web: Record<string, unknown> },
  method: MethodName,
  request: unknown,
  options: CallOptions,
): Promise<CallResult> {
  let header: Headers | undefined;
  let trailer: Headers | undefined;
  const client = webMethods.has(method) ? clients.web : clients.faces;
  try {
    const fn = client[method] as (r: unknown, o: unknown) => Promise<never>;
    const response = await fn(request, {
      headers: headersFor(options),
      onHeader: (h: Headers) => {
        header = h;
      },
      onTrailer: (t: Headers) => {
        trailer = t;
      },
    });
    const json = toJson(methods[method].output, response, {
      alwaysEmitImplicit: true,
    }) as JsonObject;
    return { code: 0, message: "", json, meta: merge(header, trailer) };
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, message: e.rawMessage, meta: merge(header, trailer, e.metadata) };
  }
}

function rpcClient(
  name: Exclude<ProtocolName, "grpc-js" | "rest">,
  server: TestServer,
): ProtocolClient {
  const settings = {
    baseUrl: server.baseUrl,
    protocol: name === "grpc-web" ? ("grpc-web" as const) : ("connect" as const),
    useBinaryFormat: name !== "connect-json",
  };
  const clients = {
    faces: createConnectClient(settings),
    web: createConnectClient({ ...settings, service: BioIDWebService }),
  };
  return {
    name,
    call: (method, request, options) => typedCall(clients, method, request, options),
    close() {},
  };
}

function grpcJsClient(server: TestServer): ProtocolClient {
  const faces = createGrpcJsClient({ address: server.address });
  const web = createGrpcJsClient({ address: server.address, service: BioIDWebService });
  return {
    name: "grpc-js",
    call: (method, request, options) => typedCall({ faces, web }, method, request, options),
    close: () => {
      faces.close();
      web.close();
    },
  };
}

const b64 = (bytes: Uint8Array | undefined) =>
  Buffer.from(bytes ?? new Uint8Array()).toString("base64");
type ImageInit = { image?: Uint8Array; tags?: string[] };
const imageJson = (i: ImageInit) => ({
  image: b64(i.image),
  ...(i.tags?.length ? { tags: i.tags } : {}),
});

/** The REST request a JSON Web API caller sends for each RPC, per the wire contract. */
function restRequest<M extends MethodName>(method: M, request: Requests[M]) {
  const r = request as Record<string, unknown>;
  const id = String(r.classId ?? 0);
  switch (method) {
    case "enroll":
      return {
        verb: "POST",
        path: `/api/face/v1/enroll/${id}`,
        body: ((r.images ?? []) as ImageInit[]).map(imageJson),
      };
    case "verify":
      return {
        verb: "POST",
        path: `/api/face/v1/verify/${id}`,
        body: imageJson((r.image ?? {}) as ImageInit),
      };
    case "search":
      return {
        verb: "POST",
        path: "/api/face/v1/search",
        body: {
          images: ((r.images ?? []) as ImageInit[]).map(imageJson),
          tags: r.tags ?? [],
          topMatches: r.topMatches ?? false,
        },
      };
    case "setTemplateTags":
      return { verb: "PUT", path: `/api/face/v1/template/${id}/tags`, body: r.tags ?? [] };
    case "livenessDetection":
      return {
        verb: "POST",
        path: "/api/v1/livenessdetection",
        body: { liveImages: ((r.liveImages ?? []) as ImageInit[]).map(imageJson) },
      };
    case "videoLivenessDetection":
      return {
        verb: "POST",
        path: "/api/v1/videolivenessdetection",
        body: { video: b64(r.video as Uint8Array | undefined) },
      };
    case "photoVerify":
      return {
        verb: "POST",
        path: "/api/v1/photoverify",
        body: {
          liveImages: ((r.liveImages ?? []) as ImageInit[]).map(imageJson),
          photo: b64(r.photo as Uint8Array | undefined),
          ...(r.disableLivenessDetection ? { disableLivenessDetection: true } : {}),
        },
      };
    case "getTemplateStatus":
      return {
        verb: "GET",
        path: `/api/face/v1/template/status/${id}${r.downloadThumbnails ? "?downloadThumbnails=true" : ""}`,
      };
    default:
      return { verb: "DELETE", path: `/api/face/v1/template/${id}` };
  }
}

function restClient(server: TestServer): ProtocolClient {
  return {
    name: "rest",
    async call(method, request, options) {
      const { verb, path, body } = restRequest(method, request) as {
        verb: string;
        path: string;
        body?: unknown;
      };
      const res = await fetch(server.baseUrl + path, {
        method: verb,
        headers: {
          ...headersFor(options),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      if (res.status === 200) {
        // REST writes int64 as JSON numbers; read it back through the schema into the canonical
        // proto3 JSON the other protocols give, big numbers quoted first so no digit is lost.
        const output = methods[method].output;
        const raw = JSON.parse(text.replace(/([:[,])(-?\d{16,})(?=[,}\]])/g, '$1"$2"'));
        const json = toJson(output, fromJson(output, raw), { alwaysEmitImplicit: true });
        return {
          code: 0,
          message: "",
          json: json as JsonObject,
          meta: res.headers,
          httpStatus: 200,
          text,
        };
      }
      const json = JSON.parse(text) as JsonObject;
      return {
        code: Number(json.code),
        message: String(json.message),
        meta: res.headers,
        httpStatus: res.status,
      };
    },
    close() {},
  };
}

/** Clients for every protocol against one server. */
export function protocolClients(server: TestServer): ProtocolClient[] {
  return protocolNames.map((name) =>
    name === "grpc-js"
      ? grpcJsClient(server)
      : name === "rest"
        ? restClient(server)
        : rpcClient(name, server),
  );
}
