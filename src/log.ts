// The daemon's logger: pino JSON lines on stderr, or pino-pretty's readable
// lines when a person is watching.
import { pino, type Logger } from "pino";
import pretty from "pino-pretty";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
export const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
export type LogFormat = "json" | "pretty";

/** Fields that may hold key material or credentials: never written, whoever logs them. */
export const REDACTED_FIELDS = [
  "secret",
  "password",
  "token",
  "authorization",
  "*.secret",
  "*.password",
  "*.token",
  "*.authorization",
  "*.headers.authorization",
];

export function makeLogger(level: LogLevel, format: LogFormat, base?: Record<string, unknown>): Logger {
  const options = { level, base: base ?? null, redact: { paths: REDACTED_FIELDS, censor: "[redacted]" } };
  if (format === "pretty")
    return pino(
      options,
      pretty({
        destination: 2,
        colorize: process.stderr.isTTY,
        translateTime: "SYS:HH:MM:ss.l",
        ignore: "pid,hostname",
        singleLine: true,
        sync: true,
      }),
    );
  return pino(options, pino.destination(2));
}
