/**
 * A BWS client that knows only the wire contract: its own .proto files (vendor spelling,
 * shared messages without a package), @grpc/proto-loader and plain @grpc/grpc-js, tokens
 * signed with jose. No facevault code is used on the client side.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/test-server.js";

const contractDir = fileURLToPath(new URL("./fixtures/contract/", import.meta.url));
const photo = (path: string) =>
  readFileSync(fileURLToPath(new URL(`./fixtures/faces/${path}`, import.meta.url)));

type Callback = (err: grpc.ServiceError | null, value: Record<string, unknown>) => void;
type RawClient = Record<string, (req: unknown, md: grpc.Metadata, cb: Callback) => void> &
  grpc.Client;

let server: TestServer;
let client: RawClient;

async function call(method: string, request: unknown): Promise<Record<string, unknown>> {
  const key = new Uint8Array(Buffer.from(server.clients.alice.key, "base64"));
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: "HS512", typ: "JWT" })
    .setIssuer("alice")
    .setSubject("alice")
    .setAudience("BWS")
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(key);
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return new Promise((resolve, reject) => {
    const fn = client[method] as (req: unknown, md: grpc.Metadata, cb: Callback) => void;
    fn.call(client, request, metadata, (err, value) => (err ? reject(err) : resolve(value)));
  });
}

beforeAll(async () => {
  server = await startTestServer();
  const definition = protoLoader.loadSync("bws_face_recognition.proto", {
    includeDirs: [contractDir],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    bioid: { services: { v1: { FaceRecognition: grpc.ServiceClientConstructor } } };
  };
  const Ctor = loaded.bioid.services.v1.FaceRecognition;
  client = new Ctor(server.address, grpc.credentials.createInsecure()) as unknown as RawClient;
});

afterAll(async () => {
  client?.close();
  await server?.close();
});

describe("a client built from the wire contract alone", () => {
  it("calls all six RPCs over gRPC", async () => {
    const enrolled = await call("Enroll", {
      classId: "77",
      images: [
        { image: photo("people/person-01/01.jpg") },
        { image: photo("people/person-01/02.jpg") },
      ],
    });
    expect(enrolled.status).toBe("SUCCEEDED");
    expect(enrolled.performedAction).toBe("NEW_TEMPLATE_CREATED");
    expect(enrolled.enrolledImages).toBe(2);
    const props = enrolled.imageProperties as { faces: { leftEye: { x: number } }[] }[];
    expect(props).toHaveLength(2);
    expect(props[0]?.faces).toHaveLength(1);
    expect(props[0]?.faces[0]?.leftEye.x).toBeGreaterThan(0);
    expect(enrolled.templateStatus).toMatchObject({
      classId: "77",
      available: true,
      featureVectors: 2,
    });

    const verified = await call("Verify", {
      classId: "77",
      image: { image: photo("people/person-01/03.jpg") },
    });
    expect(verified.verified).toBe(true);
    expect(verified.score).toBeGreaterThan(0.5);

    const found = await call("Search", {
      images: [{ image: photo("people/person-01/04.jpg") }],
      topMatches: false,
    });
    const matches = (found.result as { matches: { classId: string; score: number }[] }[])[0]
      ?.matches;
    expect(matches?.[0]?.classId).toBe("77");

    expect(await call("SetTemplateTags", { classId: "77", tags: ["vip"] })).toEqual({});
    const status = await call("GetTemplateStatus", { classId: "77", downloadThumbnails: true });
    expect(status).toMatchObject({
      classId: "77",
      available: true,
      tags: ["vip"],
      encoderVersion: 2,
    });
    const thumbs = status.thumbnails as { image: Buffer }[];
    expect(thumbs).toHaveLength(2);
    expect(thumbs[0]?.image.subarray(1, 4).toString()).toBe("PNG");

    expect(await call("DeleteTemplate", { classId: "77" })).toEqual({});
    expect(await call("GetTemplateStatus", { classId: "77" })).toMatchObject({ available: false });
    await expect(call("DeleteTemplate", { classId: "77" })).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
  });
});
