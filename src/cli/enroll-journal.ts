import { closeSync, fdatasyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { FacevaultError } from "../errors.js";

/**
 * One line of the journal (JSON Lines, appended and flushed to disk line by line):
 * - `source`: the first line, naming the folder or CSV file the journal belongs to;
 * - `begin`: written before an image's Enroll call, with the class's `enrolled` timestamp as
 *   last seen (null: no template) — what a resume compares the server's against;
 * - `done`: after the server acknowledged the image as enrolled (`recovered`: a resume found
 *   that an interrupted call had been applied);
 * - `failed`: after the server refused it or the call failed (retried by the next run);
 * - `tags`: after the class's tags were set.
 */
export type JournalEntry =
  | { t: "source"; origin: string }
  | { t: "begin"; key: string; before: string | null }
  | { t: "done"; key: string; recovered?: true }
  | { t: "failed"; key: string }
  | { t: "tags"; classId: string };

/** What earlier runs left behind. */
export interface JournalState {
  /** Images acknowledged as enrolled. */
  done: Set<string>;
  /** Images whose call began but has no outcome (the run stopped in between), with `before`. */
  inDoubt: Map<string, string | null>;
  /** Classes whose tags were set. */
  tagged: Set<string>;
}

export interface EnrollJournal {
  readonly state: JournalState;
  /** True when the file held entries of an earlier run. */
  readonly resumed: boolean;
  /** Appends and flushes one entry: it is on disk when this returns. */
  write(entry: JournalEntry): void;
  close(): void;
}

/** The key of an image in the journal: class id and file. */
export function journalKey(classId: string, file: string): string {
  return `${classId}\t${file}`;
}

/**
 * Opens (or creates) the journal at `path` for the source `origin`.
 * @throws FacevaultError when the journal belongs to another source.
 */
export function openEnrollJournal(path: string, origin: string): EnrollJournal {
  const state: JournalState = { done: new Set(), inDoubt: new Map(), tagged: new Set() };
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    // no journal yet: a first run
  }
  const entries: JournalEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      entries.push(JSON.parse(line) as JournalEntry);
    } catch {
      // The last line of a run killed while writing it: that entry never took effect.
    }
  }
  const first = entries[0];
  if (first && (first.t !== "source" || first.origin !== origin)) {
    throw new FacevaultError(
      "failed_precondition",
      `journal ${path} belongs to ${first.t === "source" ? first.origin : "another run"}, not ${origin}; choose another file with --journal`,
    );
  }
  for (const e of entries) {
    if (e.t === "begin") state.inDoubt.set(e.key, e.before);
    else if (e.t === "done") {
      state.inDoubt.delete(e.key);
      state.done.add(e.key);
    } else if (e.t === "failed") state.inDoubt.delete(e.key);
    else if (e.t === "tags") state.tagged.add(e.classId);
  }
  const fd = openSync(path, "a", 0o600);
  // A torn last line would glue itself to the next entry: start on a fresh line.
  if (text !== "" && !text.endsWith("\n")) writeSync(fd, "\n");
  const write = (entry: JournalEntry) => {
    writeSync(fd, `${JSON.stringify(entry)}\n`);
    fdatasyncSync(fd);
  };
  if (!first) write({ t: "source", origin });
  return { state, resumed: first !== undefined, write, close: () => closeSync(fd) };
}
