import { resolve } from "node:path";
import { openEnrollJournal } from "./enroll-journal.js";
import { openEnrollReport } from "./enroll-report.js";
import { type EnrollSummary, runEnroll } from "./enroll-run.js";
import { readEnrollSource } from "./enroll-sources.js";
import { createProgress } from "./progress.js";
import { connectToServer, type ServerOptions } from "./server-connection.js";

export interface EnrollCommandOptions extends ServerOptions {
  /** Classes enrolled at the same time. */
  concurrency: number;
  journal: string;
  report: string;
  /** Deadline of each call, in seconds. */
  timeout: number;
  /** Print the summary as JSON. */
  json?: boolean;
}

/**
 * `facevault enroll <dir | file.csv>`: enrolls every image into a running server, resumable
 * from its journal. Ctrl-C stops starting new images, lets the calls in flight finish and
 * prints the summary (a second Ctrl-C exits at once; the journal still holds every
 * acknowledged image). Resolves to the exit code: 0 only when every image is enrolled.
 */
export async function enrollCommand(path: string, options: EnrollCommandOptions): Promise<number> {
  const source = readEnrollSource(path);
  const connection = connectToServer(options);
  const journal = openEnrollJournal(resolve(options.journal), source.origin);
  const report = openEnrollReport(resolve(options.report));
  const abort = new AbortController();
  const onSigint = () => {
    process.stderr.write(
      "\nfacevault: stopping after the calls in flight (Ctrl-C again to quit now; the journal resumes either way)\n",
    );
    process.once("SIGINT", () => process.exit(130));
    abort.abort();
  };
  process.once("SIGINT", onSigint);
  const { done } = journal.state;
  const alreadyDone = source.items.filter((i) => done.has(`${i.classId}\t${i.file}`)).length;
  if (journal.resumed) {
    process.stdout.write(
      `resuming from ${options.journal}: ${alreadyDone} of ${source.items.length} images already enrolled, ${journal.state.inDoubt.size} interrupted\n`,
    );
  }
  const progress = createProgress({
    json: Boolean(options.json),
    label: "enroll",
    unit: "images",
    total: source.items.length,
    start: alreadyDone,
  });
  let summary: EnrollSummary;
  try {
    summary = await runEnroll({
      source,
      calls: connection.calls,
      journal,
      report: (row) => report.write(row),
      onImage: (row) => progress.tick(!row.ok),
      concurrency: options.concurrency,
      timeoutMs: options.timeout * 1000,
      signal: abort.signal,
    });
  } finally {
    progress.stop();
    process.off("SIGINT", onSigint);
    journal.close();
    report.close();
    connection.close();
  }
  const complete =
    summary.alreadyDone + summary.recovered + summary.created + summary.updated + summary.upgraded;
  const ok = complete === summary.images && summary.tagFailures.length === 0;
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ ...summary, ok, enrolled: complete })}\n`);
  } else {
    process.stdout.write(summaryText(summary, complete, options.report, abort.signal.aborted));
  }
  if (abort.signal.aborted) return 130;
  return ok ? 0 : 1;
}

function summaryText(s: EnrollSummary, complete: number, report: string, interrupted: boolean) {
  const sent = s.created + s.updated + s.upgraded + s.failed;
  const rate = s.seconds > 0 ? sent / s.seconds : 0;
  const lines = [
    `${complete} of ${s.images} images of ${s.classes} classes enrolled${interrupted ? " (interrupted)" : ""}`,
    `  this run: ${s.created} new templates, ${s.updated} updated, ${s.upgraded} upgraded, ${s.failed} failed, ${sent} calls in ${s.seconds.toFixed(1)} s (${rate.toFixed(1)} images/s)`,
  ];
  if (s.alreadyDone || s.recovered || s.resent) {
    lines.push(
      `  resumed: ${s.alreadyDone} done by earlier runs, ${s.recovered} interrupted calls found applied (not sent again), ${s.resent} sent again`,
    );
  }
  if (s.tagged || s.tagFailures.length) {
    lines.push(`  tags set on ${s.tagged} classes`);
    for (const f of s.tagFailures) lines.push(`  tags not set: ${f}`);
  }
  if (s.notStarted) lines.push(`  not started: ${s.notStarted} images`);
  if (complete < s.images) {
    lines.push(`  see ${report} for each image; run the same command again to retry the rest`);
  }
  return `${lines.join("\n")}\n`;
}
