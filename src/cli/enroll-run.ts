import { readFile } from "node:fs/promises";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { FaceEnrollmentResponse_EnrollmentAction as Action, JobStatus } from "@facevault/client";
import type { EnrollJournal } from "./enroll-journal.js";
import { journalKey } from "./enroll-journal.js";
import type { ReportRow } from "./enroll-report.js";
import type { EnrollItem, EnrollSource } from "./enroll-sources.js";
import type { FaceCalls } from "./server-connection.js";

export interface EnrollRunOptions {
  source: EnrollSource;
  calls: Pick<FaceCalls, "enroll" | "getTemplateStatus" | "setTemplateTags">;
  journal: EnrollJournal;
  /** Receives one row per image this run handled. */
  report: (row: ReportRow) => void;
  /** Classes enrolled at the same time (images of one class go one after another). */
  concurrency: number;
  /** Deadline of each call, in milliseconds. */
  timeoutMs: number;
  /** Stops starting new images; calls in flight finish and are journaled. */
  signal: AbortSignal;
  /** Called as each image is finished (success or not). */
  onImage?: (row: ReportRow) => void;
}

export interface EnrollSummary {
  images: number;
  classes: number;
  /** Done by earlier runs (journal). */
  alreadyDone: number;
  /** Calls of an interrupted run found applied on the server: not sent again. */
  recovered: number;
  /** Interrupted calls found not applied: sent again. */
  resent: number;
  created: number;
  updated: number;
  upgraded: number;
  failed: number;
  /** Classes whose tags were set. */
  tagged: number;
  tagFailures: string[];
  /** Images not attempted because the run was interrupted. */
  notStarted: number;
  seconds: number;
}

/**
 * Enrolls every image of the source not yet done according to the journal, one Enroll call per
 * image, up to `concurrency` classes at a time.
 *
 * Never twice: an image is journaled `begin` (with the class's `enrolled` timestamp as last
 * seen) before its call and `done` once acknowledged. A run that stopped between the two
 * (crash, kill -9, lost connection) leaves the image in doubt: the server may or may not have
 * applied it. The next run asks the server for the class's status: when its `enrolled`
 * timestamp moved since `begin` (or the template now exists and did not), the call was applied
 * and is not repeated (reported RECOVERED); otherwise the image is sent again. This is exact
 * because the images of one class are enrolled one after another, and nobody else enrolls
 * into that class meanwhile; if someone does, the image is counted as applied — the decision
 * errs toward never adding a face to a template twice.
 */
export async function runEnroll(options: EnrollRunOptions): Promise<EnrollSummary> {
  const { source, calls, journal, signal } = options;
  const started = performance.now();
  const { done, inDoubt, tagged } = journal.state;
  const summary: EnrollSummary = {
    images: source.items.length,
    classes: 0,
    alreadyDone: 0,
    recovered: 0,
    resent: 0,
    created: 0,
    updated: 0,
    upgraded: 0,
    failed: 0,
    tagged: 0,
    tagFailures: [],
    notStarted: 0,
    seconds: 0,
  };
  const byClass = new Map<string, EnrollItem[]>();
  for (const item of source.items) {
    const list = byClass.get(item.classId) ?? [];
    list.push(item);
    byClass.set(item.classId, list);
  }
  summary.classes = byClass.size;
  const call = { timeoutMs: options.timeoutMs };

  const finish = (row: ReportRow) => {
    options.report(row);
    options.onImage?.(row);
  };

  async function enrollClass(classId: string, items: EnrollItem[]): Promise<void> {
    // The class's `enrolled` timestamp as last seen: null while it has no template.
    let last: string | null | undefined;
    const status = async () => {
      const s = await calls.getTemplateStatus({ classId: BigInt(classId) }, call);
      return s.available ? stamp(s.enrolled) : null;
    };
    let allOk = true;
    let stopped = false;
    for (const item of items) {
      const key = journalKey(classId, item.file);
      if (done.has(key)) {
        summary.alreadyDone++;
        continue;
      }
      if (signal.aborted || stopped) {
        summary.notStarted++;
        allOk = false;
        continue;
      }
      if (inDoubt.has(key)) {
        // An earlier run stopped during this image's call: ask the server whether it applied.
        const before = inDoubt.get(key) ?? null;
        let applied: boolean;
        try {
          last = await status();
          applied = last !== null && last !== before;
        } catch (err) {
          summary.failed++;
          allOk = false;
          finish({ ...rowOf(item), action: "CALL_FAILED", errors: [messageOf(err)] });
          stopped = true;
          continue;
        }
        if (applied) {
          journal.write({ t: "done", key, recovered: true });
          inDoubt.delete(key);
          summary.recovered++;
          finish({ ...rowOf(item), action: "RECOVERED", ok: true });
          continue;
        }
        summary.resent++;
      }
      let image: Buffer;
      try {
        image = await readFile(item.path);
        if (last === undefined) last = await status();
      } catch (err) {
        summary.failed++;
        allOk = false;
        finish({ ...rowOf(item), action: "CALL_FAILED", errors: [messageOf(err)] });
        continue;
      }
      journal.write({ t: "begin", key, before: last });
      for (let attempt = 1; ; attempt++) {
        let answer: Awaited<ReturnType<typeof calls.enroll>>;
        try {
          answer = await calls.enroll({ classId: BigInt(classId), images: [{ image }] }, call);
        } catch (err) {
          // No answer (deadline, lost connection, refusal): the call may have been applied.
          // Settle it now, before another image of the class moves the timestamp.
          let now: string | null;
          try {
            now = await status();
          } catch {
            // The server is gone: the journal keeps the image in doubt for the next run, and
            // the class stops here so that nothing else changes it before that run checks.
            summary.failed++;
            allOk = false;
            finish({ ...rowOf(item), action: "CALL_FAILED", errors: [messageOf(err)] });
            stopped = true;
            break;
          }
          if (now !== null && now !== last) {
            journal.write({ t: "done", key, recovered: true });
            summary.recovered++;
            last = now;
            finish({ ...rowOf(item), action: "RECOVERED", ok: true, errors: [messageOf(err)] });
            break;
          }
          // Not applied. UNAVAILABLE (a full analysis queue, a restarting server): try again.
          if (isUnavailable(err) && attempt < unavailableAttempts && !signal.aborted) {
            await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
            continue;
          }
          journal.write({ t: "failed", key });
          summary.failed++;
          allOk = false;
          finish({ ...rowOf(item), action: "CALL_FAILED", errors: [messageOf(err)] });
          break;
        }
        if (answer.templateStatus?.available) last = stamp(answer.templateStatus.enrolled);
        const props = answer.imageProperties[0];
        const quality = (props?.qualityAssessments ?? []).map((q) =>
          q.score ? `${q.check}=${q.score.toFixed(3)}` : q.check,
        );
        const errors = answer.errors.map((e) => `${e.errorCode}: ${e.message}`);
        const ok = answer.status === JobStatus.SUCCEEDED && answer.enrolledImages > 0;
        journal.write(ok ? { t: "done", key } : { t: "failed", key });
        if (ok) {
          if (answer.performedAction === Action.NEW_TEMPLATE_CREATED) summary.created++;
          else if (answer.performedAction === Action.TEMPLATE_UPGRADED) summary.upgraded++;
          else summary.updated++;
        } else {
          summary.failed++;
          allOk = false;
        }
        const action = Action[answer.performedAction] ?? "NONE";
        finish({ ...rowOf(item), action, ok, quality, errors });
        break;
      }
    }
    const tags = source.tags.get(classId);
    if (tags && allOk && !tagged.has(classId) && !signal.aborted) {
      try {
        await calls.setTemplateTags({ classId: BigInt(classId), tags }, call);
        journal.write({ t: "tags", classId });
        summary.tagged++;
      } catch (err) {
        summary.tagFailures.push(`class ${classId}: ${messageOf(err)}`);
      }
    }
  }

  const queue = [...byClass.entries()];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) await enrollClass(...next);
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(options.concurrency, queue.length)) }, worker),
  );
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}

/** Attempts of a call answered UNAVAILABLE and found not applied (waits 0.5, 1, 2, 4 s). */
const unavailableAttempts = 5;

function isUnavailable(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 14;
}

function rowOf(item: EnrollItem): ReportRow {
  // ok false until the outcome says otherwise
  return { classId: item.classId, file: item.file, action: "", ok: false, quality: [], errors: [] };
}

function stamp(t: Timestamp | undefined): string {
  return t ? `${t.seconds}.${String(t.nanos).padStart(9, "0")}` : "0";
}

function messageOf(err: unknown): string {
  if (err && typeof err === "object" && "code" in err && "rawMessage" in err) {
    // A ConnectError: its code name and the server's message.
    const e = err as { code: number; rawMessage: string };
    return `${grpcCodeNames[e.code] ?? e.code}: ${e.rawMessage}`;
  }
  return err instanceof Error ? err.message : String(err);
}

const grpcCodeNames: Record<number, string> = {
  1: "CANCELLED",
  2: "UNKNOWN",
  3: "INVALID_ARGUMENT",
  4: "DEADLINE_EXCEEDED",
  5: "NOT_FOUND",
  6: "ALREADY_EXISTS",
  7: "PERMISSION_DENIED",
  8: "RESOURCE_EXHAUSTED",
  9: "FAILED_PRECONDITION",
  10: "ABORTED",
  11: "OUT_OF_RANGE",
  12: "UNIMPLEMENTED",
  13: "INTERNAL",
  14: "UNAVAILABLE",
  15: "DATA_LOSS",
  16: "UNAUTHENTICATED",
};
