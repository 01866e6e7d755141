import { closeSync, openSync, statSync, writeSync } from "node:fs";

/** One line of the per-image report. */
export interface ReportRow {
  classId: string;
  file: string;
  /**
   * What happened to the image: the server's action (NEW_TEMPLATE_CREATED, TEMPLATE_UPDATED,
   * TEMPLATE_UPGRADED), `RECOVERED` (an interrupted run's call had been applied),
   * ENROLLMENT_FAILED, or `CALL_FAILED` (no answer: the server was unreachable or refused it).
   */
  action: string;
  ok: boolean;
  /** The image's quality assessments: `check` or `check=score`. */
  quality: string[];
  /** `code: message` of every error. */
  errors: string[];
}

export interface EnrollReport {
  write(row: ReportRow): void;
  close(): void;
}

const csvColumns = ["class", "file", "action", "ok", "quality", "errors"] as const;

/**
 * Appends one row per image to `path`: CSV when it ends in `.csv` (header written once), JSON
 * Lines otherwise. Appending keeps the rows of earlier, interrupted runs.
 */
export function openEnrollReport(path: string): EnrollReport {
  const csv = path.toLowerCase().endsWith(".csv");
  let empty = true;
  try {
    empty = statSync(path).size === 0;
  } catch {
    // a new file
  }
  const fd = openSync(path, "a", 0o644);
  if (csv && empty) writeSync(fd, `${csvColumns.join(",")}\n`);
  return {
    write(row) {
      const line = csv
        ? [
            row.classId,
            row.file,
            row.action,
            String(row.ok),
            row.quality.join("; "),
            row.errors.join("; "),
          ]
            .map(csvField)
            .join(",")
        : JSON.stringify({
            class: row.classId,
            file: row.file,
            action: row.action,
            ok: row.ok,
            quality: row.quality,
            errors: row.errors,
          });
      writeSync(fd, `${line}\n`);
    },
    close: () => closeSync(fd),
  };
}

function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
