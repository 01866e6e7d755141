import { FacevaultError } from "../errors.js";

/** The field of errors in how the command was called: `main` prints the usage after them. */
export const commandLine = "command line";

/** An error in how a command was called (a bad option value): the usage follows it. */
export function usageError(message: string): FacevaultError {
  return new FacevaultError("invalid_argument", message, { field: commandLine });
}
