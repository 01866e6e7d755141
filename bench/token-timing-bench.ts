/**
 * `npm run bench:token`: does the time to refuse a token tell an unknown client id from a known
 * one with a wrong signature? Prints the median refusal time of each kind as a ratio to the
 * wrong-key refusal of a one-key client, measured in the same run with the kinds interleaved.
 */

import { randomBytes } from "node:crypto";
import { mintToken } from "@facevault/client";
import { createClientRegistry } from "../src/auth/client-registry.js";
import { createTokenVerifier } from "../src/auth/token-verifier.js";
import { median } from "./bench-support.js";

const rounds = Number(process.env.BENCH_ROUNDS ?? 20_000);
const key = () => new Uint8Array(randomBytes(64));
const client = (clientId: string, keys: Uint8Array[]) => ({
  clientId,
  keys,
  storage: "bws",
  partition: 0,
  storeThumbnails: true,
  encryptCompactTemplate: false,
});
const verifier = createTokenVerifier({
  clients: createClientRegistry([client("one-key", [key()]), client("two-keys", [key(), key()])]),
});
const wrong = key();
const kinds = {
  "wrong key, client with 1 key": await mintToken({ clientId: "one-key", key: wrong }),
  "wrong key, client with 2 keys": await mintToken({ clientId: "two-keys", key: wrong }),
  "unknown client": await mintToken({ clientId: "nobody", key: wrong }),
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
const messages = new Map<string, string>();

for (let i = 0; i < rounds; i++) {
  for (const [kind, token] of Object.entries(kinds)) {
    const start = process.hrtime.bigint();
    try {
      await verifier.verifyAuthorization(`Bearer ${token}`);
    } catch (err) {
      messages.set(kind, (err as Error).message);
    }
    times[kind]?.push(Number(process.hrtime.bigint() - start) / 1000);
  }
}

const baseline = median(times["wrong key, client with 1 key"] ?? []);
console.log(
  `token refusals, ${rounds} rounds each, kinds interleaved (median µs, ratio to baseline)`,
);
for (const [kind, t] of Object.entries(times)) {
  const m = median(t);
  console.log(`${kind.padEnd(32)} ${m.toFixed(1).padStart(7)} µs  ${(m / baseline).toFixed(2)}`);
}
console.log(`distinct messages: ${new Set(messages.values()).size}`);
