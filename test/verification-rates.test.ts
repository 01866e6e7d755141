/**
 * Verify on the fixture photos at the documented threshold (score >= 0.5, the encoder's
 * distance threshold calibrated on LFW for 0.1% false accepts): one photo of each person is
 * enrolled, every other photo is verified against its own class (genuine) and searched
 * against all classes (impostor scores). The rates are printed and bounded.
 */
import { createConnectClient, createTokenSource } from "@facevault/client";
import { afterAll, beforeAll, expect, it } from "vitest";
import { photo, photosByIdentity } from "./support/photos.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ config: { face: { workers: 2 } } });
});
afterAll(async () => server?.close());

it("verifies genuine pairs and rejects impostor pairs at the documented threshold", async () => {
  const { alice } = server.clients;
  const api = createConnectClient({
    baseUrl: server.baseUrl,
    protocol: "grpc",
    token: createTokenSource({ clientId: alice.clientId, key: alice.key }),
  });
  const people = [...photosByIdentity()]
    .map(([identity, files]) => [identity, files.filter((f) => f.startsWith("people/"))] as const)
    .filter(([, files]) => files.length >= 2);
  const classOf = new Map<string, bigint>();
  for (const [i, [identity, files]] of people.entries()) {
    const classId = BigInt(i + 1);
    classOf.set(identity, classId);
    const res = await api.enroll({ classId, images: [{ image: photo(files[0] as string) }] });
    expect(res.enrolledImages, files[0]).toBe(1);
  }

  let genuine = 0;
  let genuineAccepted = 0;
  let impostor = 0;
  let impostorAccepted = 0;
  const rejected: string[] = [];
  const probes = people.flatMap(([identity, files]) =>
    files.slice(1).map((f) => ({ identity, f })),
  );
  await Promise.all(
    probes.map(async ({ identity, f }) => {
      const own = classOf.get(identity) as bigint;
      const image = { image: photo(f) };
      const verified = await api.verify({ classId: own, image });
      genuine++;
      if (verified.verified) genuineAccepted++;
      else rejected.push(`${f} (score ${verified.score.toFixed(3)})`);
      const found = await api.search({ images: [image], topMatches: true });
      const matches = found.result[0]?.matches ?? [];
      // With 10 of the classes returned, every class beyond them scored lower than the 10th.
      expect(matches.length).toBe(Math.min(10, people.length));
      if (people.length > 10) expect(matches[9]?.score ?? 0).toBeLessThan(0.5);
      impostor += people.length - 1;
      impostorAccepted += matches.filter((m) => m.classId !== own && m.score >= 0.5).length;
    }),
  );
  const accept = genuineAccepted / genuine;
  const falseAccept = impostorAccepted / impostor;
  console.log(
    `verification on fixtures: ${people.length} people, genuine ${genuineAccepted}/${genuine} accepted (${(100 * accept).toFixed(1)}%), impostor ${impostorAccepted}/${impostor} accepted (${(100 * falseAccept).toFixed(2)}%)${rejected.length ? `; rejected genuine: ${rejected.join(", ")}` : ""}`,
  );
  expect(accept).toBeGreaterThanOrEqual(0.9);
  expect(falseAccept).toBeLessThanOrEqual(0.01);
});
