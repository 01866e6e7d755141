import { decodeJwt, decodeProtectedHeader, errors, jwtVerify } from "jose";
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

/** Creates the JWT bearer check of the wire contract: HS256/384/512, aud BWS, iss = sub = client id. */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const clockTolerance = options.clockToleranceSeconds ?? 30;
  const now = options.now ?? (() => new Date());
  const { clients } = options;

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
      if (!client) throw unauthenticated(`unknown client '${claimedIssuer}'`);

      for (const key of client.keys) {
        try {
          await jwtVerify(token, key, {
            algorithms: [...acceptedAlgorithms],
            audience: bwsAudience,
            issuer: client.clientId,
            subject: client.clientId,
            requiredClaims: ["exp"],
            clockTolerance,
            currentDate: now(),
          });
          return client;
        } catch (err) {
          if (err instanceof errors.JWSSignatureVerificationFailed) continue;
          throw unauthenticated(describeJoseError(err));
        }
      }
      throw unauthenticated(
        `token signature does not match any key of client '${client.clientId}'`,
      );
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
        return "token issued in the future ('iat')";
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
