import { type ChildProcess, execFile } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const main = join(root, "src", "main.ts");
// Commands run in a test's own folder, outside the project: tsx by its resolved location, and
// @facevault/client mapped to its source by the project's tsconfig paths.
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `facevault <args>` (src/main.ts through tsx) as a child process in `cwd`; `started`
 * gets the process (to signal it).
 */
export function runCli(
  args: readonly string[],
  cwd: string,
  started?: (child: ChildProcess) => void,
): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["--import", tsx, main, ...args],
      {
        cwd,
        env: {
          ...process.env,
          FACEVAULT_CONFIG: "",
          LOG_LEVEL: "warn",
          TSX_TSCONFIG_PATH: join(root, "tsconfig.json"),
        },
        maxBuffer: 1 << 24,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    started?.(child);
  });
}
