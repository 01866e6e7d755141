import type { ConnectionOptions } from "node:tls";
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { FaceRecognition } from "../../../gen/bioid/services/v1/face_recognition_pb.js";
import { resolveToken, type TokenSource } from "./token-source.js";

export type ConnectProtocol = "connect" | "grpc" | "grpc-web";

export interface ConnectClientOptions<S extends DescService = typeof FaceRecognition> {
  /** e.g. http://localhost:8080 */
  baseUrl: string;
  /** Default "connect". "grpc" uses HTTP/2 (h2c for http:// URLs). */
  protocol?: ConnectProtocol;
  /** Protobuf binary instead of JSON (Connect and gRPC-Web). Default false for Connect. */
  useBinaryFormat?: boolean;
  /** Bearer token or token source, sent as `Authorization` on every call. */
  token?: TokenSource;
  /** Sent as `Reference-Number` on every call. */
  referenceNumber?: string;
  interceptors?: Interceptor[];
  /** TLS options for https:// URLs, e.g. `{ ca }` for a private certificate authority. */
  tls?: Pick<ConnectionOptions, "ca" | "cert" | "key" | "rejectUnauthorized" | "servername">;
  /** Default: FaceRecognition. */
  service?: S;
}

/**
 * A typed promise client for facevault (or any service of the contract) over Connect, gRPC or
 * gRPC-Web, on connect-node transports.
 */
export function createConnectClient<S extends DescService = typeof FaceRecognition>(
  options: ConnectClientOptions<S>,
): Client<S> {
  const protocol = options.protocol ?? "connect";
  const auth: Interceptor = (next) => async (req) => {
    const token = await resolveToken(options.token);
    if (token && !req.header.has("authorization"))
      req.header.set("authorization", `Bearer ${token}`);
    if (options.referenceNumber && !req.header.has("reference-number")) {
      req.header.set("reference-number", options.referenceNumber);
    }
    return next(req);
  };
  const common = {
    baseUrl: options.baseUrl,
    interceptors: [auth, ...(options.interceptors ?? [])],
    ...(options.tls ? { nodeOptions: options.tls } : {}),
  };
  const transport =
    protocol === "grpc"
      ? createGrpcTransport(common)
      : protocol === "grpc-web"
        ? createGrpcWebTransport({
            ...common,
            httpVersion: "1.1",
            useBinaryFormat: options.useBinaryFormat ?? true,
          })
        : createConnectTransport({
            ...common,
            httpVersion: "1.1",
            useBinaryFormat: options.useBinaryFormat ?? false,
          });
  return createClient((options.service ?? FaceRecognition) as S, transport);
}
