import { Command, InvalidArgumentError, Option } from "commander";

// Each command's module is imported when it runs: `--help` and one-off commands start fast.
const config = () => import("../config.js");
const templates = () => import("./template-commands.js");

/**
 * `facevault` alone, or with options only, runs `serve` as it always has. Not commander's
 * default command: that would answer a mistyped command with "too many arguments for serve".
 */
export function withDefaultCommand(args: readonly string[]): string[] {
  const first = args[0];
  const help = args.some((a) => a === "--help" || a === "-h");
  return first === undefined || (first.startsWith("-") && !help) ? ["serve", ...args] : [...args];
}

/** The commander program of `facevault` and the exit code its action left. */
export interface FacevaultProgram {
  program: Command;
  /** Set by the command that ran. */
  exitCode(): number;
  /** The command being run (for its help after a usage error), once parsing chose it. */
  activeCommand(): Command;
}

const environmentHelp = `
Environment: FACEVAULT_CONFIG (config file); every setting as FACEVAULT_ and its path in upper
snake case, __ between levels (FACEVAULT_FACE__MAX_QUEUE=32); PORT, DATABASE_URL, LOG_LEVEL.
Commands calling a server also read FACEVAULT_URL, FACEVAULT_CLIENT, FACEVAULT_KEY and
FACEVAULT_KEY_FILE.`;

function integer(min: number, max: number) {
  return (text: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The options of every command that calls a running server. */
function serverCommand(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .description(description)
    .option("--url <url>", "server address (http://host:port or https://...)", undefined)
    .option("--client <id>", "client id (default: the first client of the config)")
    .addOption(
      new Option("--key <base64>", "the client's key (visible to other users: prefer --key-file)"),
    )
    .option("--key-file <file>", "file holding the client's key (base64)")
    .option(
      "--config <file>",
      "take client, key and port from this server config (default: FACEVAULT_CONFIG or the development setup)",
    )
    .addOption(
      new Option("--protocol <protocol>", "wire protocol")
        .choices(["grpc", "connect"])
        .default("grpc"),
    )
    .option("--timeout <seconds>", "deadline of each call", integer(1, 3600), 60)
    .option("--json", "machine-readable output");
}

/**
 * Builds the `facevault` command line: `serve` (the default), `token`, `config check`, `enroll`
 * and the one-off template commands. Errors in how a command is called print its usage; other
 * errors reach the caller of `parseAsync`.
 */
export function createProgram(): FacevaultProgram {
  let code = 0;
  const program = new Command("facevault")
    .description("Self-hosted face enrollment and recognition (BWS 3 FaceRecognition)")
    .exitOverride()
    .showHelpAfterError()
    .addHelpText("after", environmentHelp);
  let active: Command = program;
  program.hook("preAction", (_root, command) => {
    active = command;
  });
  // Every subcommand stops instead of calling process.exit, and prints its help after a mistake.
  const finish = (command: Command) => command.exitOverride().showHelpAfterError();

  finish(
    program
      .command("serve")
      .description("run the service (no config: development mode in ./data)")
      .option("--config <file>", "config file (JSON)")
      .action(async (o: { config?: string }) => {
        const { loadConfig } = await config();
        const { serveCommand } = await import("./serve-command.js");
        await serveCommand(loadConfig(o.config ? { configPath: o.config } : {}));
      }),
  );

  finish(
    program
      .command("token")
      .description("print a bearer token (JWT) for a configured client")
      .option("--config <file>", "config file (JSON)")
      .option("--client <id>", "client id (default: the first configured client)")
      .option("--minutes <n>", "token lifetime in minutes", integer(1, 1440), 10)
      .action(async (o: { config?: string; client?: string; minutes: number }) => {
        const { loadConfig } = await config();
        const { tokenCommand } = await import("./token-command.js");
        const loaded = loadConfig(o.config ? { configPath: o.config } : {});
        process.stdout.write(`${await tokenCommand(loaded, o.client, o.minutes)}\n`);
      }),
  );

  const configCommand = finish(program.command("config").description("inspect the configuration"));
  finish(
    configCommand
      .command("check")
      .description(
        "validate the configuration and print it as it takes effect (defaults filled in, environment applied, secrets redacted)",
      )
      .option("--config <file>", "config file (JSON; default: FACEVAULT_CONFIG)")
      .action(async (o: { config?: string }) => {
        const { effectiveConfig } = await config();
        const effective = effectiveConfig(o.config ? { configPath: o.config } : {});
        process.stdout.write(`${JSON.stringify(effective, null, 2)}\n`);
      }),
  );

  finish(
    serverCommand(
      program,
      "enroll",
      "enroll a folder (<dir>/<classId>/*.jpg) or a CSV (classId,path[,tags])",
    )
      .argument("<source>", "folder with one subfolder per class id, or a CSV file")
      .option("--concurrency <n>", "classes enrolled at the same time", integer(1, 256), 4)
      .option("--journal <file>", "journal to resume from", "facevault-enroll.journal")
      .option(
        "--report <file>",
        "per-image report, appended (.csv: CSV, else JSON Lines)",
        "facevault-enroll-report.jsonl",
      )
      .addHelpText(
        "after",
        `
A folder holds one subfolder per class id with its images and an optional tags.txt (one tag per
line). A CSV has lines classId,path[,tags] (tags separated by ;), paths relative to the CSV.
Running the same command again resumes from the journal; an image acknowledged by the server is
never sent again. Exit code 0 only when every image was enrolled (130 after Ctrl-C).`,
      )
      .action(async (source: string, o) => {
        const { enrollCommand } = await import("./enroll-command.js");
        code = await enrollCommand(source, o);
      }),
  );

  finish(
    serverCommand(program, "verify", "verify a photo against a class's template")
      .argument("<classId>")
      .argument("<image>")
      .addHelpText("after", "\nExit code 0: verified, 2: not verified, 1: the call failed.")
      .action(async (classId: string, image: string, o) => {
        code = await (await templates()).verifyCommand(classId, image, o);
      }),
  );

  finish(
    serverCommand(program, "search", "find the classes matching photos, best first")
      .argument("<image...>")
      .option("--tag <tag>", "only templates carrying this tag (repeatable)", collect)
      .option("--top", "the best matches whatever the decision threshold")
      .action(async (images: string[], o) => {
        code = await (await templates()).searchCommand(images, o);
      }),
  );

  finish(
    serverCommand(program, "status", "show a class's template")
      .argument("<classId>")
      .option("--thumbnails <dir>", "save the stored thumbnails (PNG) into this folder")
      .action(async (classId: string, o) => {
        code = await (await templates()).statusCommand(classId, o);
      }),
  );

  finish(
    serverCommand(program, "tags", "show a class's tags, or replace them with the given ones")
      .argument("<classId>")
      .argument("[tags...]")
      .option("--clear", "remove every tag")
      .action(async (classId: string, tags: string[], o) => {
        code = await (await templates()).tagsCommand(classId, tags, o);
      }),
  );

  finish(
    serverCommand(program, "delete", "delete the templates of classes")
      .argument("<classId...>")
      .action(async (classIds: string[], o) => {
        code = await (await templates()).deleteCommand(classIds, o);
      }),
  );

  finish(
    program
      .command("rekey")
      .description("re-seal every template and search snapshot under a new master key")
      .requiredOption("--new-master-key-file <file>", "the new master key (base64 of 32 bytes)")
      .option("--config <file>", "server config (JSON; default: FACEVAULT_CONFIG)")
      .option(
        "--partition <storage/partition>",
        "only this partition (default: every configured one)",
      )
      .option("--json", "machine-readable summary")
      .addHelpText(
        "after",
        `
Safe while servers run, in this order: (1) put the new key in the config as masterKey and the
old one in previousMasterKeys, restart the servers; (2) run rekey (again after an interruption:
it continues); (3) remove the old key from previousMasterKeys and restart.`,
      )
      .action(
        async (o: {
          config?: string;
          newMasterKeyFile: string;
          partition?: string;
          json?: boolean;
        }) => {
          const { loadConfig } = await config();
          const { rekeyCommand } = await import("./rekey-command.js");
          const loaded = loadConfig(o.config ? { configPath: o.config } : {});
          const s = await rekeyCommand(loaded, o);
          process.stdout.write(
            o.json
              ? `${JSON.stringify(s)}\n`
              : `rekey: ${s.resealed} of ${s.templates} templates re-sealed (the others already were), ${s.snapshots} search snapshots; the old key can leave previousMasterKeys\n`,
          );
        },
      ),
  );

  finish(
    program
      .command("reencode")
      .description(
        "upgrade templates of other encoders to the configured one, from their thumbnails",
      )
      .option("--config <file>", "server config (JSON; default: FACEVAULT_CONFIG)")
      .option(
        "--partition <storage/partition>",
        "only this partition (default: every configured one)",
      )
      .option("--json", "machine-readable summary")
      .addHelpText(
        "after",
        "\nUntil it has run, Search answers with a TemplatesNotCompared error naming how many were left out.",
      )
      .action(async (o: { config?: string; partition?: string; json?: boolean }) => {
        const { loadConfig } = await config();
        const { reencodeCommand } = await import("./reencode-command.js");
        const s = await reencodeCommand(loadConfig(o.config ? { configPath: o.config } : {}), o);
        if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
        else {
          process.stdout.write(
            `reencode: ${s.upgraded} of ${s.found} templates upgraded to encoder ${s.encoderVersion}\n`,
          );
          for (const f of s.failed) process.stdout.write(`  not upgraded: ${f}\n`);
        }
        code = s.failed.length === 0 ? 0 : 1;
      }),
  );

  const jobs = finish(program.command("jobs").description("look after the bookkeeping log"));
  finish(
    jobs
      .command("prune")
      .description("delete bookkeeping records older than an age")
      .requiredOption("--older-than <age>", "e.g. 90d, 12h, 2w (units s, m, h, d, w)")
      .option("--config <file>", "server config (JSON; default: FACEVAULT_CONFIG)")
      .option("--json", "machine-readable summary")
      .action(async (o: { config?: string; olderThan: string; json?: boolean }) => {
        const { loadConfig } = await config();
        const { jobsPruneCommand, parseAge } = await import("./jobs-prune-command.js");
        parseAge(o.olderThan); // a usage error before the database is opened
        const s = await jobsPruneCommand(
          loadConfig(o.config ? { configPath: o.config } : {}),
          o.olderThan,
        );
        process.stdout.write(
          o.json
            ? `${JSON.stringify({ deleted: s.deleted, olderThan: s.olderThan.toISOString() })}\n`
            : `jobs prune: ${s.deleted} records received before ${s.olderThan.toISOString()} deleted\n`,
        );
      }),
  );

  const secretOptions = (command: Command) =>
    command
      .option(
        "--passphrase-file <file>",
        "passphrase (at least 12 characters; or FACEVAULT_EXPORT_PASSPHRASE)",
      )
      .option("--key-file <file>", "instead of a passphrase: a key of 32 bytes in base64")
      .option("--config <file>", "server config (JSON; default: FACEVAULT_CONFIG)")
      .option("--json", "machine-readable summary");
  type SecretOptions = {
    passphraseFile?: string;
    keyFile?: string;
    config?: string;
    json?: boolean;
  };

  finish(
    secretOptions(
      program
        .command("export")
        .description("write a partition's templates to one encrypted, checksummed archive")
        .requiredOption("--partition <storage/partition>", "the partition to export")
        .requiredOption("--out <file>", "the archive to write (must not exist)"),
    )
      .addHelpText(
        "after",
        "\nThe archive holds biometric data: keep it like the database. Interrupted, the same command continues.",
      )
      .action(async (o: SecretOptions & { partition: string; out: string }) => {
        const { loadConfig } = await config();
        const { readArchiveSecret } = await import("./export-archive.js");
        const { exportCommand } = await import("./export-command.js");
        const secret = readArchiveSecret(o);
        const s = await exportCommand(
          loadConfig(o.config ? { configPath: o.config } : {}),
          o,
          secret,
        );
        process.stdout.write(
          o.json
            ? `${JSON.stringify({ ...s, out: o.out })}\n`
            : `export: ${s.templates} templates of ${o.partition} written to ${o.out}\n`,
        );
      }),
  );

  finish(
    secretOptions(
      program
        .command("import")
        .description("read an export archive into this server's database")
        .argument("<file>", "the archive")
        .option(
          "--partition <storage/partition>",
          "import into this partition (default: the archive's)",
        ),
    ).action(async (file: string, o: SecretOptions & { partition?: string }) => {
      const { loadConfig } = await config();
      const { readArchiveSecret } = await import("./export-archive.js");
      const { importCommand } = await import("./import-command.js");
      const secret = readArchiveSecret(o);
      const s = await importCommand(
        loadConfig(o.config ? { configPath: o.config } : {}),
        file,
        o,
        secret,
      );
      const imported = s.rows.filter((r) => r.action === "TEMPLATE_IMPORTED").length;
      if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
      else {
        process.stdout.write(
          `import: ${imported} of ${s.rows.length} templates imported into ${s.storage}/${s.partition}\n`,
        );
        for (const r of s.rows) {
          if (r.action !== "TEMPLATE_IMPORTED")
            process.stdout.write(`  class ${r.classId}: ${r.action} (left as it is)\n`);
        }
      }
    }),
  );

  return { program, exitCode: () => code, activeCommand: () => active };
}
