/**
 * The maintenance commands as an operator runs them (child processes of src/main.ts with the
 * server's config file) against a server that keeps serving, on SQLite and on PostgreSQL:
 * - reencode: templates of encoder 2 are left out of Search with a TemplatesNotCompared error
 *   (never silently) until `facevault reencode` upgrades them; then Search finds them;
 * - rekey: after `facevault rekey --new-master-key-file`, a server holding only the new key
 *   (the old one removed from previousMasterKeys) still opens every template;
 * - export / import: a partition into an encrypted archive, into another partition and into
 *   another database under another master key, where its templates verify; imported again, nothing is overwritten; a changed archive or a wrong
 *   passphrase is refused;
 * - jobs prune: bookkeeping records older than the age go, newer ones stay.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createGrpcJsClient, type FaceRecognition, type GrpcJsClient } from "@facevault/client";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_ENCODER_VERSION } from "../src/face/encoders.js";
import { createTemplateStore } from "../src/store/create-template-store.js";
import { createTemplateSealer } from "../src/templates/template-sealer.js";
import { createTemplateVault } from "../src/templates/template-vault.js";
import { photo } from "./support/photos.js";
import { runCli } from "./support/run-cli.js";
import { startTestServer, type TestServer, testPostgresUrl } from "./support/test-server.js";

const schema = `cli_maintenance_${process.pid}`;
const dropSchema = async () => {
  const admin = new pg.Client({ connectionString: testPostgresUrl });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  await admin.end();
};
afterAll(dropSchema);

const databases = [
  { name: "SQLite", options: {} },
  { name: "PostgreSQL", options: { database: testPostgresUrl, databaseSchema: schema } },
];

describe.each(databases)("maintenance commands on $name", ({ options }) => {
  let server: TestServer | undefined;
  let grpc: GrpcJsClient<typeof FaceRecognition> | undefined;
  const connect = (s: TestServer) => {
    grpc?.close();
    const client = createGrpcJsClient({
      address: s.address,
      token: () => s.token(s.clients.alice),
    });
    grpc = client;
    return client;
  };
  afterAll(async () => {
    grpc?.close();
    await server?.close();
  });

  it("reencode, rekey, export/import and jobs prune, with a server serving", async () => {
    if (options.databaseSchema) await dropSchema();
    server = await startTestServer({
      ...options,
      config: { face: { workers: 1, encoderVersion: 2 } },
    });
    const dir = server.dir;
    const config = join(dir, "config.json");
    let client = connect(server);
    const probe = photo("people/person-01/02.jpg");
    for (const [classId, file] of [
      [1n, "people/person-01/01.jpg"],
      [2n, "people/person-02/01.jpg"],
    ] as const) {
      const answer = await client.enroll({ classId, images: [{ image: photo(file) }] });
      expect(answer.enrolledImages).toBe(1);
    }

    // The default encoder now: both templates are of another one.
    server = await server.restart({ face: { workers: 1 } });
    client = connect(server);
    const before = await client.search({ images: [{ image: probe }] });
    expect(before.result[0]?.matches ?? []).toHaveLength(0);
    expect(before.errors.map((e) => e.errorCode)).toEqual(["TemplatesNotCompared"]);
    expect(before.errors[0]?.message).toMatch(/^2 template\(s\) .* not compared/);

    const reencode = await runCli(["reencode", "--config", config, "--json"], dir);
    expect(reencode.code, reencode.stderr).toBe(0);
    const summary = JSON.parse(reencode.stdout.trim().split("\n").pop() as string);
    expect(summary).toMatchObject({ found: 2, upgraded: 2, failed: [] });
    const after = await client.search({ images: [{ image: probe }] });
    expect(after.errors).toEqual([]);
    expect(after.result[0]?.matches[0]?.classId).toBe(1n);
    expect((await client.getTemplateStatus({ classId: 1n })).encoderVersion).toBe(
      DEFAULT_ENCODER_VERSION,
    );
    // Nothing left: a second run finds nothing to do.
    const again = await runCli(["reencode", "--config", config, "--json"], dir);
    expect(JSON.parse(again.stdout.trim().split("\n").pop() as string)).toMatchObject({ found: 0 });

    // Rekey, step 1: the new key seals, the old one still opens.
    const oldKey = (JSON.parse(readFileSync(config, "utf8")) as { masterKey: string }).masterKey;
    const newKey = randomBytes(32).toString("base64");
    writeFileSync(join(dir, "new.key"), `${newKey}\n`);
    server = await server.restart({ masterKey: newKey, previousMasterKeys: [oldKey] });
    client = connect(server);
    // A search snapshot of alice's partition sealed under the old key, as a server writes one for
    // a large partition: one chunk per class; class 3 is enrolled and deleted, which clears its.
    await client.enroll({ classId: 3n, images: [{ image: photo("people/person-03/01.jpg") }] });
    const oldVault = createTemplateVault({
      sealer: createTemplateSealer({ masterKeys: [Buffer.from(oldKey, "base64")] }),
    });
    const store = await createTemplateStore({
      database: options.database ?? join(dir, "facevault.db"),
      ...(options.databaseSchema ? { schema: options.databaseSchema } : {}),
    });
    const snapshotAt = (await store.partitionChanges("bws", 1, 0)).revision;
    const address = (chunk: number) => ({
      storage: "bws",
      partition: 1,
      revision: snapshotAt,
      chunk,
      chunks: 3,
    });
    const plain = [randomBytes(64), randomBytes(64), randomBytes(64)];
    const stored = await store.putSearchSnapshot("bws", 1, {
      revision: snapshotAt,
      format: "test",
      chunks: plain.map((bytes, i) => ({
        firstClassId: BigInt(i + 1),
        lastClassId: BigInt(i + 1),
        bytes: oldVault.sealSnapshotChunk(address(i), bytes),
      })),
    });
    expect(stored).toBe(true);
    const snapshotId = (await store.searchSnapshot("bws", 1))?.id as number;
    await client.deleteTemplate({ classId: 3n });
    // Step 2, while the server serves.
    const rekey = await runCli(
      ["rekey", "--config", config, "--new-master-key-file", join(dir, "new.key"), "--json"],
      dir,
    );
    expect(rekey.code, rekey.stderr).toBe(0);
    expect(JSON.parse(rekey.stdout.trim().split("\n").pop() as string)).toMatchObject({
      templates: 2,
      resealed: 2,
      snapshots: 1,
    });
    // The snapshot's chunks open under the new key alone; the cleared one stays cleared.
    const newVault = createTemplateVault({
      sealer: createTemplateSealer({ masterKeys: [Buffer.from(newKey, "base64")] }),
    });
    for (const chunk of [0, 1]) {
      const resealed = await store.searchSnapshotChunk("bws", 1, snapshotId, chunk);
      expect(
        Buffer.from(newVault.openSnapshotChunk(address(chunk), resealed?.bytes as Uint8Array)),
      ).toEqual(plain[chunk]);
    }
    expect(await store.searchSnapshotChunk("bws", 1, snapshotId, 2)).toEqual({
      firstClassId: 3n,
      lastClassId: 3n,
    });
    await store.close();
    // Step 3: the old key is gone; every template still opens.
    server = await server.restart({ masterKey: newKey, previousMasterKeys: [] });
    client = connect(server);
    const verified = await client.verify({ classId: 1n, image: { image: probe } });
    expect(verified.verified).toBe(true);
    const found = await client.search({ images: [{ image: probe }] });
    expect(found.errors).toEqual([]);
    expect(found.result[0]?.matches[0]?.classId).toBe(1n);

    // A key the config does not know is refused: servers could not open what it sealed.
    writeFileSync(join(dir, "stray.key"), randomBytes(32).toString("base64"));
    const stray = await runCli(
      ["rekey", "--config", config, "--new-master-key-file", join(dir, "stray.key")],
      dir,
    );
    expect(stray.code).toBe(1);
    expect(stray.stderr).toMatch(/new master key is not in the configuration/);

    // export bws/1 (alice's partition), import into bws/2 (bob's): his server answers from it.
    writeFileSync(join(dir, "pass.txt"), "correct horse battery staple\n");
    const archive = join(dir, "alice.fvx");
    const secret = ["--passphrase-file", join(dir, "pass.txt"), "--config", config];
    const exported = await runCli(
      ["export", "--partition", "bws/1", "--out", archive, ...secret],
      dir,
    );
    expect(exported.code, exported.stderr).toBe(0);
    // Records are sealed: their JSON (class ids, tags, times) never shows in the file.
    expect(readFileSync(archive, "utf8")).not.toContain("classId");
    // An export killed in the middle of its second record: the same command completes it.
    const [header, first, second] = readFileSync(archive, "utf8").split("\n");
    const resumedArchive = join(dir, "resumed.fvx");
    writeFileSync(`${resumedArchive}.partial`, `${header}\n${first}\n${second?.slice(0, 30)}`);
    const [imported, resumed] = await Promise.all([
      runCli(["import", archive, "--partition", "bws/2", ...secret, "--json"], dir),
      runCli(["export", "--partition", "bws/1", "--out", resumedArchive, ...secret, "--json"], dir),
    ]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ templates: 2, resumedAfter: 1 });
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout).rows).toEqual([
      { classId: "1", action: "TEMPLATE_IMPORTED" },
      { classId: "2", action: "TEMPLATE_IMPORTED" },
    ]);
    const bob = createGrpcJsClient({
      address: server.address,
      token: () => server?.token(server.clients.bob) ?? "",
    });
    try {
      expect((await bob.verify({ classId: 1n, image: { image: probe } })).verified).toBe(true);
    } finally {
      bob.close();
    }
    // And into another database under another master key (a new SQLite server of its own).
    const other = await startTestServer({ config: { face: { workers: 1 } } });
    try {
      const intoOther = await runCli(
        [
          "import",
          archive,
          "--partition",
          "bws/1",
          "--passphrase-file",
          join(dir, "pass.txt"),
        ].concat(["--config", join(other.dir, "config.json"), "--json"]),
        dir,
      );
      expect(intoOther.code, intoOther.stderr).toBe(0);
      expect(JSON.parse(intoOther.stdout).rows).toHaveLength(2);
      const there = connect(other);
      expect((await there.verify({ classId: 1n, image: { image: probe } })).verified).toBe(true);
      expect((await there.verify({ classId: 2n, image: { image: probe } })).verified).toBe(false);
    } finally {
      await other.close();
      client = connect(server);
    }

    // Again: nothing is overwritten. A changed archive or a wrong passphrase: refused.
    const lines = readFileSync(archive, "utf8").split("\n");
    // One character changed for another (never for itself: the archive is random, so a fixed
    // replacement left it unchanged once in 64 runs).
    const was = lines[1]?.[20];
    lines[1] = `${lines[1]?.slice(0, 20)}${was === "A" ? "B" : "A"}${lines[1]?.slice(21)}`;
    writeFileSync(join(dir, "changed.fvx"), lines.join("\n"));
    writeFileSync(join(dir, "wrong.txt"), "not the right passphrase");
    const [reimported, changed, wrong] = await Promise.all([
      // the resumed archive is whole: its two templates are the ones imported above
      runCli(["import", resumedArchive, "--partition", "bws/2", ...secret, "--json"], dir),
      runCli(["import", join(dir, "changed.fvx"), "--partition", "bws/2", ...secret], dir),
      runCli(
        ["import", archive, "--passphrase-file", join(dir, "wrong.txt"), "--config", config],
        dir,
      ),
    ]);
    expect(JSON.parse(reimported.stdout).rows.map((r: { action: string }) => r.action)).toEqual([
      "TEMPLATE_EXISTS",
      "TEMPLATE_EXISTS",
    ]);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/does not match its checksum/);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/failed authentication: wrong passphrase or key/);

    // jobs prune: a record of 100 days ago goes, one of today stays.
    const job = { clientId: "alice", method: "Verify", durationMs: 1, outcome: 0, imageCount: 1 };
    const day = 86_400_000;
    await server.app.jobLog.recordJob({
      ...job,
      jobId: "old-one",
      receivedAt: new Date(Date.now() - 100 * day),
    });
    await server.app.jobLog.recordJob({ ...job, jobId: "new-one", receivedAt: new Date() });
    const prune = await runCli(
      ["jobs", "prune", "--older-than", "90d", "--config", config, "--json"],
      dir,
    );
    expect(prune.code, prune.stderr).toBe(0);
    expect(JSON.parse(prune.stdout).deleted).toBeGreaterThanOrEqual(1);
    const left = (await server.app.jobLog.listJobs({ limit: 10_000 })).map((j) => j.jobId);
    expect(left).toContain("new-one");
    expect(left).not.toContain("old-one");
    const badAge = await runCli(["jobs", "prune", "--older-than", "90", "--config", config], dir);
    expect(badAge.code).toBe(1);
    expect(badAge.stderr).toMatch(
      /--older-than must be a number and a unit[\s\S]*Usage: facevault jobs prune/,
    );
  }, 240_000);
});
