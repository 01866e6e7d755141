import {
  create,
  type DescMethodUnary,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { type Code, ConnectError } from "@connectrpc/connect";
import {
  type ChannelCredentials,
  type ChannelOptions,
  Client as GrpcClient,
  credentials as grpcCredentials,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { FaceRecognition } from "../../../gen/bioid/services/v1/face_recognition_pb.js";
import { resolveToken, type TokenSource } from "./token-source.js";

export interface GrpcJsCallOptions {
  /** Cancels the call (the server sees CANCELLED). */
  signal?: AbortSignal;
  /** Deadline from now, in milliseconds. */
  timeoutMs?: number;
  /** Extra request metadata. */
  headers?: Record<string, string>;
  /** Receives the response headers (e.g. `jobid`). */
  onHeader?: (headers: Headers) => void;
  /** Receives the response trailers (e.g. `response-time-ms`). */
  onTrailer?: (trailers: Headers) => void;
}

/** One promise-returning function per unary method of the service. */
export type GrpcJsClient<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends DescMethodUnary<infer I, infer O>
    ? (request: MessageInitShape<I>, options?: GrpcJsCallOptions) => Promise<MessageShape<O>>
    : never;
} & { close(): void };

export interface GrpcJsClientOptions<S extends DescService = typeof FaceRecognition> {
  /** host:port */
  address: string;
  /** Default: insecure (plaintext h2c). */
  credentials?: ChannelCredentials;
  channelOptions?: ChannelOptions;
  /** Bearer token or token source, sent as `authorization` metadata. */
  token?: TokenSource;
  /** Default: FaceRecognition. */
  service?: S;
}

/**
 * A typed promise client on @grpc/grpc-js, built from the protobuf-es service descriptor: no
 * second code generator, the same message types as everywhere else. Errors are ConnectErrors
 * carrying the gRPC code, message and trailers.
 */
export function createGrpcJsClient<S extends DescService = typeof FaceRecognition>(
  options: GrpcJsClientOptions<S>,
): GrpcJsClient<S> {
  const service = (options.service ?? FaceRecognition) as DescService;
  const channel = new GrpcClient(
    options.address,
    options.credentials ?? grpcCredentials.createInsecure(),
    options.channelOptions ?? {},
  );
  const client: Record<string, unknown> = { close: () => channel.close() };
  for (const method of service.methods) {
    if (method.methodKind !== "unary") continue;
    const path = `/${service.typeName}/${method.name}`;
    client[method.localName] = async (
      request: MessageInitShape<DescMessageOf>,
      call: GrpcJsCallOptions = {},
    ) => {
      const metadata = new Metadata();
      const token = await resolveToken(options.token);
      if (token) metadata.set("authorization", `Bearer ${token}`);
      for (const [k, v] of Object.entries(call.headers ?? {})) metadata.set(k, v);
      const message = create(method.input, request);
      return new Promise((resolve, reject) => {
        const pending = channel.makeUnaryRequest(
          path,
          (m: typeof message) => Buffer.from(toBinary(method.input, m)),
          (bytes: Buffer) => fromBinary(method.output, bytes),
          message,
          metadata,
          call.timeoutMs === undefined ? {} : { deadline: Date.now() + call.timeoutMs },
          (err: ServiceError | null, value?: unknown) => {
            call.signal?.removeEventListener("abort", cancel);
            if (err)
              reject(
                new ConnectError(err.details, err.code as number as Code, toHeaders(err.metadata)),
              );
            else resolve(value);
          },
        );
        const cancel = () => pending.cancel();
        if (call.signal?.aborted) cancel();
        else call.signal?.addEventListener("abort", cancel, { once: true });
        if (call.onHeader) pending.on("metadata", (m: Metadata) => call.onHeader?.(toHeaders(m)));
        if (call.onTrailer) {
          pending.on("status", (s: { metadata: Metadata }) =>
            call.onTrailer?.(toHeaders(s.metadata)),
          );
        }
      });
    };
  }
  return client as GrpcJsClient<S>;
}

type DescMessageOf = DescService["methods"][number]["input"];

function toHeaders(metadata: Metadata | undefined): Headers {
  const headers = new Headers();
  for (const [key, values] of Object.entries(metadata?.getMap() ?? {})) {
    headers.set(key, Buffer.isBuffer(values) ? values.toString("base64") : String(values));
  }
  return headers;
}
