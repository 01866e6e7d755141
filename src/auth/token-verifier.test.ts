import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { isFacevaultError } from "../errors.js";
import { createClientRegistry } from "./client-registry.js";
import { mintToken } from "./token-minter.js";
import { createTokenVerifier } from "./token-verifier.js";

const keyA = new Uint8Array(randomBytes(64));
const keyB = new Uint8Array(randomBytes(64));
const otherKey = new Uint8Array(randomBytes(64));
const client = {
  clientId: "client-1",
  keys: [keyA, keyB],
  storage: "bws",
  partition: 7,
  storeThumbnails: true,
  encryptCompactTemplate: false,
};
const verifier = createTokenVerifier({ clients: createClientRegistry([client]) });
const bearer = (t: string) => `Bearer ${t}`;
const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");

async function rejection(header: string | undefined): Promise<string> {
  try {
    await verifier.verifyAuthorization(header);
  } catch (err) {
    expect(isFacevaultError(err, "unauthenticated")).toBe(true);
    return (err as Error).message;
  }
  throw new Error("expected the token to be rejected");
}

function claims(overrides: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { iss: "client-1", sub: "client-1", aud: "BWS", iat: now, exp: now + 600, ...overrides };
}

async function sign(payload: Record<string, unknown>, key: Uint8Array, alg = "HS256") {
  return new SignJWT(payload).setProtectedHeader({ alg }).sign(key);
}

describe("token verifier", () => {
  it("accepts a token signed with each of the client's keys and each HMAC algorithm", async () => {
    for (const key of [keyA, keyB]) {
      for (const algorithm of ["HS256", "HS384", "HS512"] as const) {
        const token = await mintToken({ clientId: "client-1", key, algorithm });
        await expect(verifier.verifyAuthorization(bearer(token))).resolves.toBe(client);
      }
    }
  });

  it("rejects a missing or non-bearer header", async () => {
    expect(await rejection(undefined)).toMatch(/missing Authorization/);
    expect(await rejection("Basic abc")).toMatch(/Bearer/);
  });

  it("rejects a malformed token", async () => {
    expect(await rejection(bearer("not.a.jwt"))).toMatch(/malformed/);
    expect(await rejection(bearer("abc"))).toMatch(/malformed/);
  });

  it("rejects alg none", async () => {
    const token = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims())}.`;
    expect(await rejection(bearer(token))).toMatch(/algorithm 'none' is not accepted/);
  });

  it("rejects a token signed with a key the client does not have", async () => {
    const token = await sign(claims(), otherKey);
    expect(await rejection(bearer(token))).toMatch(/signature does not match/);
  });

  it("rejects an expired token and a token without exp", async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    expect(await rejection(bearer(await sign(claims({ exp: past }), keyA)))).toMatch(/expired/);
    const noExp: Record<string, unknown> = claims();
    delete noExp.exp;
    expect(await rejection(bearer(await sign(noExp, keyA)))).toMatch(/exp/);
  });

  it("rejects a token that is not yet valid, honouring the clock skew", async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await rejection(bearer(await sign(claims({ nbf: now + 300 }), keyA)))).toMatch(
      /not yet valid/,
    );
    // 10 s ahead is within the default 30 s tolerance.
    const skewed = await sign(claims({ nbf: now + 10 }), keyA);
    await expect(verifier.verifyAuthorization(bearer(skewed))).resolves.toBe(client);
  });

  it("rejects a wrong audience, an unknown client and sub different from iss", async () => {
    expect(await rejection(bearer(await sign(claims({ aud: "other" }), keyA)))).toMatch(
      /audience must be 'BWS'/,
    );
    expect(
      await rejection(bearer(await sign(claims({ iss: "nobody", sub: "nobody" }), keyA))),
    ).toMatch(/unknown client 'nobody'/);
    expect(await rejection(bearer(await sign(claims({ sub: "someone-else" }), keyA)))).toMatch(
      /'sub' must equal 'iss'/,
    );
  });
});
