import { readFileSync } from "node:fs";
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import {
  createConnectClient,
  createGrpcJsClient,
  createTokenSource,
  type DeleteTemplateRequestSchema,
  type FaceEnrollmentRequestSchema,
  type FaceEnrollmentResponseSchema,
  type FaceSearchRequestSchema,
  type FaceSearchResponseSchema,
  type FaceTemplateStatusRequestSchema,
  type FaceTemplateStatusSchema,
  type FaceVerificationRequestSchema,
  type FaceVerificationResponseSchema,
  type SetTemplateTagsRequestSchema,
} from "@facevault/client";
import { credentials } from "@grpc/grpc-js";
import { loadConfig } from "../config.js";
import { FacevaultError } from "../errors.js";
import { usageError as usage } from "./usage-error.js";

/** Per-call options both client flavours understand. */
export interface CallOptions {
  signal?: AbortSignal;
  /** Deadline from now, in milliseconds. */
  timeoutMs?: number;
}

type Call<I extends DescMessage, O> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => Promise<O>;

/** The FaceRecognition calls the CLI makes, whichever protocol carries them. */
export interface FaceCalls {
  enroll: Call<
    typeof FaceEnrollmentRequestSchema,
    MessageShape<typeof FaceEnrollmentResponseSchema>
  >;
  verify: Call<
    typeof FaceVerificationRequestSchema,
    MessageShape<typeof FaceVerificationResponseSchema>
  >;
  search: Call<typeof FaceSearchRequestSchema, MessageShape<typeof FaceSearchResponseSchema>>;
  getTemplateStatus: Call<
    typeof FaceTemplateStatusRequestSchema,
    MessageShape<typeof FaceTemplateStatusSchema>
  >;
  setTemplateTags: Call<typeof SetTemplateTagsRequestSchema, unknown>;
  deleteTemplate: Call<typeof DeleteTemplateRequestSchema, unknown>;
}

/** The command-line options every command that calls a server takes. */
export interface ServerOptions {
  url?: string;
  client?: string;
  key?: string;
  keyFile?: string;
  config?: string;
  protocol?: string;
}

export interface ServerConnection {
  calls: FaceCalls;
  /** Where the calls go, for messages. */
  target: string;
  close(): void;
}

/** Default port of `facevault serve`, used when neither --url nor a config names one. */
const defaultUrl = "http://127.0.0.1:8080";

/**
 * Connects to a running server as one of its clients. The client and key come from `--client`
 * with `--key`/`--key-file` (or FACEVAULT_CLIENT, FACEVAULT_KEY, FACEVAULT_KEY_FILE); failing
 * those, from the server's config (`--config`, FACEVAULT_CONFIG, or the development setup in
 * the data dir), whose port also gives the default URL. gRPC over grpc-js by default;
 * `--protocol connect` uses the Connect protocol. Tokens live 10 minutes and are renewed.
 */
export function connectToServer(
  options: ServerOptions,
  env: Record<string, string | undefined> = process.env,
): ServerConnection {
  const clientId = options.client ?? env.FACEVAULT_CLIENT;
  const keyFile = options.keyFile ?? env.FACEVAULT_KEY_FILE;
  let key = options.key ?? env.FACEVAULT_KEY;
  if (!key && keyFile) key = readKeyFile(keyFile);
  let url = options.url ?? env.FACEVAULT_URL;
  let client: { clientId: string; key: string | Uint8Array };
  if (clientId && key) {
    client = { clientId, key };
  } else if (clientId && !options.config && !env.FACEVAULT_CONFIG) {
    throw usage(`--client ${clientId} needs --key or --key-file`);
  } else {
    // The server's own configuration: the operator on the server's machine needs no flags.
    const config = loadConfig(options.config ? { configPath: options.config } : {});
    const configured = clientId
      ? config.clients.find((c) => c.clientId === clientId)
      : config.clients[0];
    if (!configured) throw new FacevaultError("not_found", `no client '${clientId}' is configured`);
    const firstKey = key ?? configured.keys[0];
    if (!firstKey) throw usage(`client '${configured.clientId}' has no key`);
    client = { clientId: configured.clientId, key: firstKey };
    url ??= `http://127.0.0.1:${config.port}`;
  }
  const parsed = parseUrl(url ?? defaultUrl);
  const token = createTokenSource({ ...client, minutes: 10 });
  const protocol = options.protocol ?? "grpc";
  if (protocol === "grpc") {
    const grpc = createGrpcJsClient({
      address: parsed.host,
      token,
      ...(parsed.protocol === "https:" ? { credentials: credentials.createSsl() } : {}),
    });
    return { calls: grpc, target: parsed.origin, close: () => grpc.close() };
  }
  if (protocol === "connect") {
    const connect = createConnectClient({ baseUrl: parsed.origin, token });
    return { calls: connect, target: parsed.origin, close: () => undefined };
  }
  throw usage(`--protocol must be grpc or connect, not '${protocol}'`);
}

function parseUrl(text: string): URL {
  const withScheme = /^[a-z]+:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw usage(`--url '${text}' is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw usage(`--url must be http:// or https://, not ${url.protocol}`);
  }
  if (!url.port) url.port = url.protocol === "https:" ? "443" : "80";
  return url;
}

function readKeyFile(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new FacevaultError("invalid_argument", `cannot read key file ${path}`, { cause: err });
  }
}
