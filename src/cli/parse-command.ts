import { parseArgs } from "node:util";
import { FacevaultError } from "../errors.js";

export type Command =
  | { name: "serve"; configPath?: string }
  | { name: "token"; configPath?: string; clientId?: string; minutes: number }
  | { name: "help" };

export const usage = `Usage:
  facevault [serve] [--config FILE]      run the service (no config: development mode in ./data)
  facevault token [--config FILE] [--client ID] [--minutes N]
                                         print a bearer token (JWT) for a configured client
Environment: FACEVAULT_CONFIG (config file); every setting as FACEVAULT_ and its path in upper
snake case, __ between levels (FACEVAULT_FACE__MAX_QUEUE=32); PORT, DATABASE_URL, LOG_LEVEL.
`;

/** Parses the command line (without node and script). @throws FacevaultError on bad usage. */
export function parseCommand(argv: readonly string[]): Command {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw usageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { name: "help" };
  const [name = "serve", ...rest] = positionals;
  if (rest.length > 0) throw usageError(`unexpected '${rest[0]}'`);
  const configPath = values.config;
  if (name === "serve") return { name, ...(configPath ? { configPath } : {}) };
  if (name === "token") {
    const minutes = values.minutes === undefined ? 10 : Number(values.minutes);
    if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 24 * 60) {
      throw usageError("--minutes must be a number from 1 to 1440");
    }
    return {
      name,
      minutes,
      ...(configPath ? { configPath } : {}),
      ...(values.client ? { clientId: values.client } : {}),
    };
  }
  throw usageError(`unknown command '${name}'`);
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      config: { type: "string" },
      client: { type: "string" },
      minutes: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

/** The field of errors in how the command was called: `main` prints the usage after them. */
export const commandLine = "command line";

function usageError(message: string): FacevaultError {
  return new FacevaultError("invalid_argument", message, { field: commandLine });
}
