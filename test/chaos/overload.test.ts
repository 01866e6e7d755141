/**
 * Overload: far more enrollments at once than one face worker and its queue can take. The
 * surplus is refused at once with UNAVAILABLE (503, Retry-After), what was taken is answered,
 * the process's memory stays bounded, and it serves normally afterwards.
 */

import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { createGrpcJsClient, createTokenSource } from "@facevault/client";
import { afterAll, describe, expect, it } from "vitest";
import { startChildServer, stopAllChildServers, withChildOutput } from "../support/child-server.js";

const dir = mkdtempSync(join(tmpdir(), "facevault-overload-"));
const big = new Uint8Array(
  readFileSync(new URL("../fixtures/faces/sizes/obama-1080p.jpg", import.meta.url)),
);
const client = {
  clientId: "crowd",
  key: randomBytes(64).toString("base64"),
  storage: "bws",
  partition: 1,
};

afterAll(async () => {
  await stopAllChildServers();
  rmSync(dir, { recursive: true, force: true });
});

/** Peak resident memory of a process so far, MB (Linux: VmHWM). */
function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

describe("overload", () => {
  it("refuses the surplus with UNAVAILABLE at once and keeps memory bounded", () =>
    withChildOutput(async () => {
      const server = await startChildServer({
        name: "overload",
        dir,
        database: join(dir, "o.db"),
        masterKey: randomBytes(32).toString("base64"),
        clients: [client],
        config: {
          face: { workers: 1, maxQueue: 8 },
          limits: { maxImagesPerRequest: 8 },
          templates: { maxFeatureVectors: 8 },
        },
      });
      const api = createGrpcJsClient({
        address: server.address,
        token: createTokenSource({ clientId: client.clientId, key: client.key }),
      });
      const before = peakRssMb(server.pid);
      const outcomes = await Promise.all(
        Array.from({ length: 120 }, (_, i) =>
          api.enroll({ classId: BigInt(i + 1), images: [{ image: big }] }).then(
            () => Code[0] ?? "OK",
            (err: unknown) => ConnectError.from(err).code,
          ),
        ),
      );
      const refused = outcomes.filter((c) => c === Code.Unavailable).length;
      const answered = outcomes.filter((c) => c === "OK").length;
      const peak = peakRssMb(server.pid);
      console.log(
        `overload: 120 calls, ${answered} answered, ${refused} refused with 503; peak RSS ${before.toFixed(0)} -> ${peak.toFixed(0)} MB`,
      );
      expect(answered + refused).toBe(120);
      expect(refused).toBeGreaterThan(0);
      expect(answered).toBeGreaterThanOrEqual(8);
      // Each refused call held its 1080p image only until the answer: memory is bounded by
      // the queue, not by the crowd.
      expect(peak - before).toBeLessThan(600);
      const after = await api.getTemplateStatus({ classId: 1n });
      expect(after.classId).toBe(1n);
      api.close();
    }));
});
