/**
 * The server's logger: pino, one JSON object a line (read by log collectors), or
 * pino-pretty's coloured lines when stdout is a terminal. Secrets are cut out by key
 * wherever they would appear in a logged object, and request URLs lose the values of
 * their token-like query parameters: no API key, webhook secret or receiver credential
 * is ever written.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";
import pretty from "pino-pretty";
import type { LogLevel } from "../config.ts";

export type { Logger };

/** Object keys whose values are secrets, wherever they are in a logged object. */
const SECRET_KEYS = [
  "authorization",
  "cookie",
  "set-cookie",
  "x-api-key",
  "key",
  "api_key",
  "apiKey",
  "secret",
  "password",
  "token",
  "signing_key",
  "signingKey",
  "public_key",
  "publicKey",
  "access_token",
  "refresh_token",
  "client_secret",
  "webhook_secret",
];

/** pino's redaction matches fixed depths: the keys at the top and up to three levels down. */
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `["${k}"]`;
  return [key.slice(key.startsWith(".") ? 1 : 0), `*${key}`, `*.*${key}`, `*.*.*${key}`];
});

/** Query parameters whose values are cut from logged URLs. */
const SECRET_QUERY = /([?&](?:key|api_key|token|access_token|secret|signature|sig|password|auth)=)[^&#]*/gi;

/** A URL as it may be logged: token-like query values replaced. */
export function safeUrl(url: string): string {
  return url.replace(SECRET_QUERY, "$1[Redacted]");
}

/** An `x-request-id` a client sent is kept when it is short and plain; otherwise a new one. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function requestId(req: IncomingMessage): string {
  const sent = req.headers["x-request-id"];
  return typeof sent === "string" && SANE_REQUEST_ID.test(sent) ? sent : randomUUID();
}

export interface LoggerSettings {
  level?: LogLevel;
  /** Where lines go (default stdout; tests capture a stream). */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Coloured lines for people (default: when stdout is a terminal and no destination is given). */
  pretty?: boolean;
}

export function createLogger(s: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: s.level ?? "info",
    base: { service: "slice" },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: "[Redacted]" },
    serializers: {
      req: (req: { method?: string; url?: string; routeOptions?: { url?: string }; ip?: string }) => ({
        method: req.method,
        url: safeUrl(req.url ?? ""),
        ...(req.routeOptions?.url ? { route: req.routeOptions.url } : {}),
        ...(req.ip ? { remote: req.ip } : {}),
      }),
      res: (res: { statusCode?: number }) => ({ status: res.statusCode }),
      err: pino.stdSerializers.err,
    },
  };
  const usePretty = s.pretty ?? (s.destination === undefined && process.stdout.isTTY === true);
  if (usePretty) {
    return pino(
      options,
      pretty({
        colorize: true,
        sync: true,
        translateTime: "SYS:HH:MM:ss.l",
        ignore: "pid,hostname,service",
        ...(s.destination ? { destination: s.destination as NodeJS.WritableStream } : {}),
      }),
    );
  }
  return s.destination ? pino(options, s.destination as DestinationStream) : pino(options);
}

/** A logger that writes nothing (tests, and library use without a logger). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
