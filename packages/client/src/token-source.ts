import { mintToken } from "./token-minter.js";

/** A bearer token, or a function giving one per call. */
export type TokenSource = string | (() => string | Promise<string>);

export interface ClientTokenOptions {
  clientId: string;
  /** The client's key: base64 as in the server configuration, or raw bytes. */
  key: string | Uint8Array;
  /** Token lifetime in minutes. Default 10. */
  minutes?: number;
  /** Mint a new token for every call instead of reusing one until shortly before it expires. */
  freshPerCall?: boolean;
  algorithm?: "HS256" | "HS384" | "HS512";
}

/**
 * Mints BWS tokens for a client on demand: one cached token renewed a minute before it
 * expires (or a fresh one per call).
 */
export function createTokenSource(options: ClientTokenOptions): () => Promise<string> {
  const minutes = options.minutes ?? 10;
  let cached: { token: string; renewAt: number } | undefined;
  return async () => {
    if (!options.freshPerCall && cached && Date.now() < cached.renewAt) return cached.token;
    const token = await mintToken({
      clientId: options.clientId,
      key: options.key,
      minutes,
      ...(options.algorithm ? { algorithm: options.algorithm } : {}),
    });
    cached = { token, renewAt: Date.now() + Math.max(minutes * 60_000 - 60_000, 0) };
    return token;
  };
}

/** Resolves a token source for one call. */
export async function resolveToken(source: TokenSource | undefined): Promise<string | undefined> {
  return typeof source === "function" ? source() : source;
}
