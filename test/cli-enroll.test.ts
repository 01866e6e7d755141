/**
 * `facevault enroll` and the one-off commands as an operator runs them: child processes of
 * src/main.ts against a real server on port 0, a real folder of photos and a CSV. Resuming is
 * checked on the journal a crash leaves: an image whose call was acknowledged but not journaled
 * is not sent again, one whose call never happened is.
 */
import type { ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGrpcJsClient, type FaceRecognition, type GrpcJsClient } from "@facevault/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, runCli } from "./support/run-cli.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const faces = join(root, "test", "fixtures", "faces", "people");
let server: TestServer;
let grpc: GrpcJsClient<typeof FaceRecognition>;
let dir: string;
let keyFile: string;

/** Runs `facevault <args>` in the test's folder, connected to the test server as alice. */
function facevault(
  args: string[],
  connect = true,
  started?: (child: ChildProcess) => void,
): Promise<CliRun> {
  const target = connect
    ? ["--url", server.baseUrl, "--client", "alice", "--key-file", keyFile]
    : [];
  return runCli([...args, ...target], dir, started);
}

beforeAll(async () => {
  server = await startTestServer();
  dir = server.dir;
  keyFile = join(dir, "alice.key");
  writeFileSync(keyFile, server.clients.alice.key);
  grpc = createGrpcJsClient({
    address: server.address,
    token: () => server.token(server.clients.alice),
  });
  // Three classes: 101 (two photos of one person, tagged), 102 (one photo), 103 (a broken file).
  const photos = join(dir, "photos");
  for (const [classId, files] of [
    ["101", ["person-01/01.jpg", "person-01/02.jpg"]],
    ["102", ["person-02/01.jpg"]],
  ] as const) {
    mkdirSync(join(photos, classId), { recursive: true });
    files.forEach((f, i) => {
      copyFileSync(join(faces, f), join(photos, classId, `${i + 1}.jpg`));
    });
  }
  writeFileSync(join(photos, "101", "tags.txt"), "staff\nberlin\n");
  mkdirSync(join(photos, "103"));
  writeFileSync(join(photos, "103", "1.jpg"), "not a photo");
}, 120_000);

afterAll(async () => {
  grpc?.close();
  await server?.close();
});

const status = (classId: bigint) => grpc.getTemplateStatus({ classId });

describe("facevault enroll <folder>", () => {
  it("enrolls every image, reports each, exits 1 while one fails and resumes to 0", async () => {
    const first = await facevault(["enroll", "photos", "--concurrency", "2"]);
    expect(first.code, first.stderr).toBe(1);
    // Not a terminal: plain progress lines, then the summary.
    expect(first.stdout).toMatch(/enroll: 4\/4 images, [\d.]+ images\/s/);
    expect(first.stdout).toContain("3 of 4 images of 3 classes enrolled");
    const report = readFileSync(join(dir, "facevault-enroll-report.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            class: string;
            file: string;
            action: string;
            ok: boolean;
            errors: string[];
          },
      );
    expect(report).toHaveLength(4);
    const byFile = Object.fromEntries(report.map((r) => [r.file, r]));
    expect(byFile["101/1.jpg"]).toMatchObject({
      class: "101",
      action: "NEW_TEMPLATE_CREATED",
      ok: true,
    });
    expect(byFile["101/2.jpg"]).toMatchObject({ action: "TEMPLATE_UPDATED", ok: true });
    expect(byFile["103/1.jpg"]?.ok).toBe(false);
    expect(byFile["103/1.jpg"]?.errors.join(" ")).toMatch(/INVALID_ARGUMENT|image/i);
    const s101 = await status(101n);
    expect(s101).toMatchObject({ available: true, featureVectors: 2 });
    expect([...s101.tags].sort()).toEqual(["berlin", "staff"]);

    // The broken file is replaced: the next run sends only it.
    copyFileSync(join(faces, "person-03", "01.jpg"), join(dir, "photos", "103", "1.jpg"));
    const second = await facevault(["enroll", "photos", "--json"]);
    expect(second.code, second.stderr).toBe(0);
    const summary = JSON.parse(second.stdout.trim().split("\n").pop() as string);
    expect(summary).toMatchObject({ ok: true, enrolled: 4, alreadyDone: 3, created: 1 });
    expect((await status(101n)).featureVectors).toBe(2);
  }, 90_000);

  it("after a crash, does not resend an acknowledged image and resends one never sent", async () => {
    // The journal of a run killed right after the server acknowledged 101/2.jpg (its `done`
    // line never written) and of one killed before 102/1.jpg's call went out.
    const journalPath = join(dir, "facevault-enroll.journal");
    const lines = readFileSync(journalPath, "utf8").trim().split("\n");
    const kept = lines.filter((l) => {
      const e = JSON.parse(l) as { t: string; key?: string };
      return !(e.t === "done" && (e.key === "101\t2.jpg" || e.key === "101\t101/2.jpg"));
    });
    expect(kept.length).toBe(lines.length - 1);
    const before102 = (await status(102n)).enrolled;
    kept.push(
      JSON.stringify({
        t: "begin",
        key: "102\t102/1.jpg",
        before: `${before102?.seconds}.${String(before102?.nanos).padStart(9, "0")}`,
      }),
    );
    // and 102/1.jpg's done line removed, as if that call never happened
    const journal = kept.filter((l) => l !== JSON.stringify({ t: "done", key: "102\t102/1.jpg" }));
    writeFileSync(journalPath, `${journal.join("\n")}\n{"t":"do`); // torn last line
    const run = await facevault(["enroll", "photos", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim().split("\n").pop() as string)).toMatchObject({
      ok: true,
      recovered: 1,
      resent: 1,
      updated: 1,
    });
    expect((await status(101n)).featureVectors).toBe(2); // not enrolled twice
    expect((await status(102n)).featureVectors).toBe(2); // sent again, as it never was
  }, 60_000);

  it("stops on Ctrl-C after the calls in flight, and the next run enrolls only the rest", async () => {
    // Eight classes of one photo each, one at a time: Ctrl-C comes while most are left.
    const folder = join(dir, "interrupted");
    for (let i = 1; i <= 8; i++) {
      mkdirSync(join(folder, String(300 + i)), { recursive: true });
      copyFileSync(join(faces, `person-0${i}`, "01.jpg"), join(folder, String(300 + i), "1.jpg"));
    }
    const journal = join(dir, "interrupted.journal");
    const args = ["enroll", "interrupted", "--concurrency", "1", "--journal", journal];
    const done = () =>
      existsSync(journal) ? (readFileSync(journal, "utf8").match(/"t":"done"/g) ?? []).length : 0;
    const first = await facevault([...args, "--json"], true, (child) => {
      const poll = setInterval(() => {
        if (done() >= 1) {
          clearInterval(poll);
          child.kill("SIGINT");
        }
      }, 20);
      child.once("exit", () => clearInterval(poll));
    });
    expect(first.code, first.stderr).toBe(130);
    expect(first.stderr).toMatch(/stopping after the calls in flight/);
    const stopped = JSON.parse(first.stdout.trim().split("\n").pop() as string);
    expect(stopped.ok).toBe(false);
    expect(stopped.notStarted).toBeGreaterThan(0);
    expect(stopped.enrolled).toBe(done());

    const second = await facevault([...args, "--json"]);
    expect(second.code, second.stderr).toBe(0);
    const rest = JSON.parse(second.stdout.trim().split("\n").pop() as string);
    expect(rest).toMatchObject({ ok: true, enrolled: 8, alreadyDone: stopped.enrolled });
    expect(rest.created).toBe(8 - stopped.enrolled);
    for (let i = 1; i <= 8; i++) {
      expect((await status(BigInt(300 + i))).featureVectors).toBe(1); // none enrolled twice
    }
  }, 60_000);

  it("reads a CSV, writes a CSV report, and refuses a bad class id naming the line", async () => {
    writeFileSync(
      join(dir, "people.csv"),
      `classId,path,tags\n201,photos/101/1.jpg,visitor;london\n`,
    );
    const run = await facevault([
      "enroll",
      "people.csv",
      "--journal",
      "csv.journal",
      "--report",
      "report.csv",
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(join(dir, "report.csv"), "utf8")).toMatch(
      /^class,file,action,ok,quality,errors\n201,photos\/101\/1\.jpg,NEW_TEMPLATE_CREATED,true,/,
    );
    expect([...(await status(201n)).tags].sort()).toEqual(["london", "visitor"]);

    writeFileSync(join(dir, "bad.csv"), "1,photos/101/1.jpg\nx7,photos/101/2.jpg\n");
    const bad = await facevault(["enroll", "bad.csv", "--journal", "bad.journal"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad\.csv:2: 'x7' is not a class id/);
  }, 60_000);
});

describe("one-off commands", () => {
  it("status, tags, verify, search and delete: human output, --json, exit codes", async () => {
    const photo = join(dir, "photos", "101", "2.jpg");
    // Independent commands run side by side: each is a process start.
    const [human, json, tagged, verified, other, found] = await Promise.all([
      facevault(["status", "101"]),
      facevault(["status", "102", "--json"]),
      facevault(["tags", "101", "a", "b"]),
      facevault(["verify", "101", photo]),
      facevault(["verify", "102", photo, "--json"]),
      facevault(["search", photo]),
    ]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/feature vectors: +2/);
    expect(JSON.parse(json.stdout)).toMatchObject({ classId: "102", available: true });
    expect(tagged.stdout).toBe("class 101: a, b\n");
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^class 101: verified \(score 0\.\d+\)/);
    expect(other.code).toBe(2);
    expect(JSON.parse(other.stdout)).toMatchObject({ verified: false });
    expect(found.code, found.stderr).toBe(0);
    expect(found.stdout).toMatch(/class 101 {2}score/);

    const deleted = await facevault(["delete", "201", "--json"]);
    expect(JSON.parse(deleted.stdout)).toEqual({ deleted: ["201"] });
    expect((await status(201n)).available).toBe(false);

    // A mistake on the command line: message and usage on stderr, nothing on stdout.
    const [mistake, wrongKey] = await Promise.all([
      facevault(["status", "abc"]),
      facevault(
        ["status", "101", "--url", server.baseUrl, "--client", "alice", "--key", "A".repeat(44)],
        false,
      ),
    ]);
    expect(mistake.code).toBe(1);
    expect(mistake.stdout).toBe("");
    expect(mistake.stderr).toMatch(/'abc' is not a class id[\s\S]*Usage: facevault status/);
    // A failed call: the message, no usage.
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/unauthenticated|UNAUTHENTICATED|token/i);
    expect(wrongKey.stderr).not.toMatch(/Usage:/);
  }, 60_000);
});

describe("facevault config check", () => {
  it("prints the effective config with secrets redacted, and fails on a bad one", async () => {
    writeFileSync(join(dir, "typo.json"), JSON.stringify({ face: { maxQeue: 3 } }));
    const [ok, bad] = await Promise.all([
      facevault(["config", "check", "--config", join(dir, "config.json")], false),
      facevault(["config", "check", "--config", join(dir, "typo.json")], false),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    const effective = JSON.parse(ok.stdout);
    expect(effective.clients[0]).toMatchObject({ clientId: "alice", keys: ["<redacted>"] });
    expect(effective.masterKey).toBe("<redacted>");
    expect(ok.stdout).not.toContain(server.clients.alice.key);
    expect(effective.face.maxQueue).toBeGreaterThan(0); // defaults filled in

    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/face\.maxQeue/);
    expect(bad.stdout).toBe("");
  }, 30_000);
});
