#!/usr/bin/env node
/**
 * Process entry of the `facevault` command: the commander program of src/cli/program.ts.
 * Errors go to stderr with a non-zero exit code; the usage follows only mistakes in how the
 * command was called, never a bad setting or a failed call.
 */
import { CommanderError } from "commander";
import { createProgram, withDefaultCommand } from "./cli/program.js";
import { commandLine } from "./cli/usage-error.js";
import { isFacevaultError } from "./errors.js";

// A reader that stops early (`facevault --help | head`) ends the command quietly, as SIGPIPE
// ends Unix tools (exit 141), instead of an unhandled EPIPE with a stack trace.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
  process.exit(141);
});

const { program, exitCode, activeCommand } = createProgram();
program.parseAsync(withDefaultCommand(process.argv.slice(2)), { from: "user" }).then(
  () => {
    process.exitCode = exitCode();
  },
  (err: unknown) => {
    if (err instanceof CommanderError) {
      // Commander printed the message (and the usage) itself; --help and --version exit 0.
      process.exitCode = err.exitCode;
      return;
    }
    const message = isFacevaultError(err) ? err.message : String((err as Error)?.stack ?? err);
    process.stderr.write(`facevault: ${message}\n`);
    if (isFacevaultError(err) && err.field === commandLine) {
      process.stderr.write(`\n${activeCommand().helpInformation()}`);
    }
    process.exitCode = 1;
  },
);
