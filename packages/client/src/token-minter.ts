import { SignJWT } from "jose";

export interface MintTokenOptions {
  clientId: string;
  /** The HMAC key, raw bytes or base64 as in the configuration. */
  key: Uint8Array | string;
  /** Lifetime in minutes. Default 10 (vendor samples use 5 to 20). */
  minutes?: number;
  /** Default HS256. */
  algorithm?: "HS256" | "HS384" | "HS512";
  /** Issue time; default now. */
  now?: Date;
}

/** The audience of every BWS token. */
export const bwsAudience = "BWS";

/** Mints a BWS bearer token (JWT) for a client: iss = sub = client id, aud BWS, iat/nbf/exp. */
export async function mintToken(options: MintTokenOptions): Promise<string> {
  const minutes = options.minutes ?? 10;
  const algorithm = options.algorithm ?? "HS256";
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const key =
    typeof options.key === "string"
      ? new Uint8Array(Buffer.from(options.key, "base64"))
      : options.key;
  return new SignJWT({})
    .setProtectedHeader({ alg: algorithm, typ: "JWT" })
    .setIssuer(options.clientId)
    .setSubject(options.clientId)
    .setAudience(bwsAudience)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + Math.round(minutes * 60))
    .sign(key);
}
