import { randomBytes } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from "jose";
import { FacevaultError } from "../errors.js";
import type { ClientConfig, ClientRegistry } from "./client-registry.js";

/** HMAC algorithms the wire contract accepts. */
export const acceptedAlgorithms = ["HS256", "HS384", "HS512"] as const;

/** The audience every BWS token must name. */
export const bwsAudience = "BWS";

export interface TokenVerifierOptions {
  clients: ClientRegistry;
  /** Allowed clock difference for `exp`, `nbf` and `iat`, in seconds. Default 30. */
  clockToleranceSeconds?: number;
  /**
   * Longest token lifetime accepted, in seconds: `exp - iat`, or `exp - now` for a token without
   * `iat`. Default 3600 (BWS's own samples mint 5 to 20 minutes).
   */
  maxTokenLifetimeSeconds?: number;
  /** Clock used for validation; tests pass a fixed one. Default: the system clock. */
  now?: () => Date;
}

export interface TokenVerifier {
  /**
   * Checks an `Authorization` header value and returns the client it authenticates.
   * Throws FacevaultError("unauthenticated") whose message says what was wrong.
   */
  verifyAuthorization(header: string | null | undefined): Promise<ClientConfig>;
}

function unauthenticated(message: string): FacevaultError {
  return new FacevaultError("unauthenticated", message, { field: "Authorization" });
}

/** Default of `maxTokenLifetimeSeconds`: one hour. */
export const defaultMaxTokenLifetimeSeconds = 3600;

/**
 * The one answer for an unknown client and for a signature that matches none of a client's keys,
 * so that client ids cannot be probed.
 */
export const signatureMismatchMessage =
  "token signature does not match a key of a configured client (unknown client or wrong key)";

/**
 * Creates the JWT bearer check of the wire contract: HS256/384/512, aud BWS, iss = sub = client
 * id, `exp` required, `nbf` and `iat` checked against the clock (with the tolerance), lifetime
 * bounded. The `kid` header is ignored: every key of the client is tried.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const clockTolerance = options.clockToleranceSeconds ?? 30;
  const maxLifetime = options.maxTokenLifetimeSeconds ?? defaultMaxTokenLifetimeSeconds;
  const now = options.now ?? (() => new Date());
  const { clients } = options;
  // Every refused signature costs the same number of HMAC checks, whether the client exists or
  // not: its keys first, then a decoy key no token can match, up to the most keys any client has.
  const decoyKey = new Uint8Array(randomBytes(64));
  const signatureRounds = Math.max(1, ...clients.list().map((c) => c.keys.length));

  return {
    async verifyAuthorization(header) {
      if (!header) throw unauthenticated("missing Authorization header: send 'Bearer <JWT>'");
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match?.[1]) {
        throw unauthenticated("Authorization header must be 'Bearer <JWT>'");
      }
      const token = match[1];

      // Read the unverified header and claims only to pick the client and give a precise
      // message; nothing is trusted until the signature and claims check below passes.
      let alg: string | undefined;
      let claimedIssuer: unknown;
      let claimedSubject: unknown;
      try {
        alg = decodeProtectedHeader(token).alg;
        const claims = decodeJwt(token);
        claimedIssuer = claims.iss;
        claimedSubject = claims.sub;
      } catch {
        throw unauthenticated("malformed token: expected a JWS compact serialization (JWT)");
      }
      if (!acceptedAlgorithms.includes(alg as (typeof acceptedAlgorithms)[number])) {
        throw unauthenticated(
          `token algorithm '${String(alg)}' is not accepted: use HS256, HS384 or HS512`,
        );
      }
      if (typeof claimedIssuer !== "string" || claimedIssuer === "") {
        throw unauthenticated("token has no 'iss' claim naming the client id");
      }
      if (claimedSubject !== claimedIssuer) {
        throw unauthenticated("token 'sub' must equal 'iss' (both are the client id)");
      }
      const client = clients.get(claimedIssuer);
      const keys = client?.keys ?? [];
      const currentDate = now();

      let payload: JWTPayload | undefined;
      for (let round = 0; round < signatureRounds && !payload; round++) {
        try {
          ({ payload } = await jwtVerify(token, keys[round] ?? decoyKey, {
            algorithms: [...acceptedAlgorithms],
            audience: bwsAudience,
            issuer: claimedIssuer,
            subject: claimedIssuer,
            requiredClaims: ["exp"],
            clockTolerance,
            currentDate,
          }));
        } catch (err) {
          if (err instanceof errors.JWSSignatureVerificationFailed) continue;
          throw unauthenticated(describeJoseError(err));
        }
      }
      if (!client || !payload) throw unauthenticated(signatureMismatchMessage);

      // jose checks `iat` only together with a maximum age, which would make `iat` mandatory;
      // BWS clients may leave it out, so the two checks are made here on the verified claims.
      const nowSeconds = currentDate.getTime() / 1000;
      const { iat, exp } = payload as { iat?: number; exp: number };
      if (iat !== undefined && iat > nowSeconds + clockTolerance) {
        throw unauthenticated("token issued in the future ('iat' is ahead of the server's clock)");
      }
      // exp - iat is what the issuer minted, the same for the token's whole life, so a client
      // minting too long a token is refused on its first call, not at some later moment. Without
      // iat only the remaining time can be measured (clock tolerance allowed).
      const lifetime = iat !== undefined ? exp - iat : exp - nowSeconds - clockTolerance;
      if (lifetime > maxLifetime) {
        throw unauthenticated(
          `token lifetime exceeds the server's maximum of ${maxLifetime} s ('exp' - 'iat', or 'exp' - now without 'iat')`,
        );
      }
      return client;
    },
  };
}

function describeJoseError(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "token expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case "nbf":
        return "token not yet valid ('nbf' is in the future)";
      case "iat":
        return "token 'iat' claim must be a number of seconds";
      case "aud":
        return `token audience must be '${bwsAudience}'`;
      case "exp":
        return "token has no valid 'exp' claim";
      default:
        return `token claim '${err.claim}' is invalid`;
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return "token algorithm is not accepted";
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) {
    return "malformed token";
  }
  return "token could not be verified";
}
