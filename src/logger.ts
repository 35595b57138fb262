// Structured JSON logs (pino): stdout for the server, stderr for the CLI so its stdout stays
// clean for scripts. Each request logs with its request id.
import pino from "pino";
import type { LogLevel } from "./config.js";

export type Logger = pino.Logger;

/** A logger writing JSON lines to stdout, stderr or (tests) any stream. */
export function createLogger(level: LogLevel, stream: "stdout" | "stderr" | pino.DestinationStream = "stdout"): Logger {
  return pino(
    { level, base: { service: "membership-graph" }, timestamp: pino.stdTimeFunctions.isoTime },
    typeof stream === "string" ? pino.destination({ fd: stream === "stdout" ? 1 : 2, sync: true }) : stream,
  );
}
