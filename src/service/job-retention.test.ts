import { afterEach, describe, expect, it, vi } from "vitest";
import { createLogger } from "../logger.js";
import type { JobRecord } from "../store/job-log.js";
import {
  createSqliteTemplateStore,
  type SqliteTemplateStore,
} from "../store/sqlite-template-store.js";
import { type JobRetention, startJobRetention } from "./job-retention.js";

const logger = createLogger({ level: "silent" });
const DAY_MS = 86_400_000;
const now = new Date(Date.UTC(2030, 0, 31));
const job = (jobId: string, daysAgo: number): JobRecord => ({
  jobId,
  clientId: "c",
  method: "Verify",
  receivedAt: new Date(now.getTime() - daysAgo * DAY_MS),
  durationMs: 1,
  outcome: 0,
  imageCount: 1,
});

describe("job retention", () => {
  let store: SqliteTemplateStore;
  let retention: JobRetention | undefined;
  afterEach(async () => {
    retention?.stop();
    await store.close();
  });

  async function seeded() {
    store = await createSqliteTemplateStore({ path: ":memory:" });
    for (const [id, days] of [
      ["old", 40],
      ["edge", 30.5],
      ["young", 29],
      ["today", 0],
    ] as const) {
      await store.recordJob(job(id, days));
    }
    return store;
  }

  const ids = async () => (await store.listJobs()).map((j) => j.jobId);

  it("deletes records older than retentionDays at once and on every interval", async () => {
    await seeded();
    retention = startJobRetention({
      jobLog: store,
      retentionDays: 30,
      intervalMs: 10,
      logger,
      now: () => now,
    });
    await vi.waitFor(async () => expect(await ids()).toEqual(["today", "young"]));
    // A record that ages past the limit later goes at a later interval.
    await store.recordJob(job("late", 45));
    await vi.waitFor(async () => expect(await ids()).toEqual(["today", "young"]));
    expect(await retention.pruneNow()).toBe(0);
  });

  it("keeps everything with retentionDays 0", async () => {
    await seeded();
    retention = startJobRetention({ jobLog: store, retentionDays: 0, intervalMs: 10, logger });
    expect(await retention.pruneNow()).toBe(0);
    expect(await ids()).toHaveLength(4);
  });

  it("survives a failing prune and stops on stop()", async () => {
    await seeded();
    let calls = 0;
    retention = startJobRetention({
      jobLog: {
        pruneJobs: (olderThan) => {
          calls++;
          return calls === 1 ? Promise.reject(new Error("down")) : store.pruneJobs(olderThan);
        },
      },
      retentionDays: 30,
      intervalMs: 10,
      logger,
      now: () => now,
    });
    await vi.waitFor(async () => expect(await ids()).toEqual(["today", "young"]));
    retention.stop();
    const after = calls;
    await store.recordJob(job("after-stop", 100));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toBe(after);
    expect(await ids()).toContain("after-stop");
  });
});
