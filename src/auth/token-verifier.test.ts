import { randomBytes } from "node:crypto";
import { mintToken } from "@facevault/client";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { isFacevaultError } from "../errors.js";
import { createClientRegistry } from "./client-registry.js";
import { createTokenVerifier, signatureMismatchMessage } from "./token-verifier.js";

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

  it("answers an unknown client and a wrong key with one message", async () => {
    // A different answer for each would let anyone probe which client ids exist.
    const wrongKey = await rejection(bearer(await sign(claims(), otherKey)));
    const unknown = await rejection(
      bearer(await sign(claims({ iss: "nobody", sub: "nobody" }), keyA)),
    );
    expect(wrongKey).toBe(signatureMismatchMessage);
    expect(unknown).toBe(signatureMismatchMessage);
  });

  it("ignores the kid header and tries every key of the client", async () => {
    for (const kid of ["key-2", "no-such-key", ""]) {
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: "HS256", kid })
        .sign(keyB);
      await expect(verifier.verifyAuthorization(bearer(token))).resolves.toBe(client);
    }
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

  it("rejects a token issued in the future beyond the clock tolerance", async () => {
    const now = Math.floor(Date.now() / 1000);
    const future = await sign(claims({ iat: now + 3600, exp: now + 3900 }), keyA);
    expect(await rejection(bearer(future))).toMatch(/issued in the future/);
    // 10 s ahead is within the default 30 s tolerance.
    const skewed = await sign(claims({ iat: now + 10, exp: now + 600 }), keyA);
    await expect(verifier.verifyAuthorization(bearer(skewed))).resolves.toBe(client);
  });

  it("rejects tokens that live longer than the maximum lifetime", async () => {
    const now = Math.floor(Date.now() / 1000);
    const exp5000 = Math.floor(Date.UTC(5000, 0, 1) / 1000);
    const tooLong = [
      claims({ exp: exp5000 }),
      claims({ exp: now + 3601 }),
      // Most of it already spent, but minted for 70 minutes: exp - iat decides.
      claims({ iat: now - 50 * 60, exp: now + 20 * 60 }),
      // Without iat, the time left decides.
      { ...claims({ exp: now + 2 * 3600 }), iat: undefined },
    ];
    for (const payload of tooLong) {
      expect(await rejection(bearer(await sign(payload, keyA)))).toMatch(
        /lifetime exceeds the server's maximum of 3600 s/,
      );
    }
    for (const payload of [claims({ exp: now + 3600 }), { ...claims(), iat: undefined }]) {
      await expect(verifier.verifyAuthorization(bearer(await sign(payload, keyA)))).resolves.toBe(
        client,
      );
    }
    // The limit is a setting: 20-minute tokens refused under a 10-minute maximum.
    const strict = createTokenVerifier({
      clients: createClientRegistry([client]),
      maxTokenLifetimeSeconds: 600,
    });
    const twenty = await mintToken({ clientId: "client-1", key: keyA, minutes: 20 });
    await expect(strict.verifyAuthorization(bearer(twenty))).rejects.toThrow(/maximum of 600 s/);
  });

  it("rejects a wrong audience and sub different from iss", async () => {
    expect(await rejection(bearer(await sign(claims({ aud: "other" }), keyA)))).toMatch(
      /audience must be 'BWS'/,
    );
    expect(await rejection(bearer(await sign(claims({ sub: "someone-else" }), keyA)))).toMatch(
      /'sub' must equal 'iss'/,
    );
  });
});
