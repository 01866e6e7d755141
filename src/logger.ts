import { type DestinationStream, type Logger, pino } from "pino";

export interface LoggerOptions {
  /** pino level: fatal, error, warn, info, debug, trace or silent. Default "info". */
  level?: string;
  /** Where lines go; default stdout. */
  destination?: DestinationStream;
}

/**
 * The process logger: JSON lines, one child per component. Callers log ids, counts and codes,
 * never images, feature vectors, thumbnails, keys or tokens; the redaction below is a second
 * line of defence for fields with those names.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: { service: "facevault" },
      redact: {
        paths: [
          "authorization",
          "*.authorization",
          "token",
          "*.token",
          "key",
          "*.key",
          "image",
          "*.image",
        ],
        censor: "[redacted]",
      },
    },
    options.destination,
  );
}
