/**
 * `Idempotency-Key` on every POST under /v1 (SPEC §4): a retry with the same key and the
 * same request gets the first answer again (status and body, with
 * `Idempotent-Replayed: true`) instead of doing the work twice; the same key with another
 * request is a 422. Keys are scoped to the workspace and the API key that sent them, kept
 * 24 hours in the store (so they outlive a restart), then purged.
 *
 * A duplicate that arrives while the first request is still running is answered 409 with
 * `Retry-After: 1` rather than made to wait: a wait would hold a connection (and, for an
 * upload, its body) for as long as the first takes, and a client retrying on timeout
 * would pile waits up. Its retry then gets the replay.
 */
import { createHash, type Hash } from "node:crypto";
import { pipeline, type Readable, Transform } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ApiError, invalid } from "../service/errors.ts";
import type { Slice } from "../service/slice.ts";

export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
const MAX_KEY_LENGTH = 255;
/** How often a workspace's expired keys are deleted (on its next keyed request). */
const PURGE_EVERY_MS = 60_000;

/**
 * Answers not kept for a replay, the key given back so that a retry runs again: the
 * transient ones. Everything else below 500 is the request's outcome and is replayed.
 */
const TRANSIENT = new Set([401, 403, 408, 425, 429]);

interface Claim {
  ws: string;
  keyId: string;
  key: string;
  settled: boolean;
}

const CLAIM = Symbol("idempotencyClaim");
type WithClaim = FastifyRequest & { [CLAIM]?: Claim };

function isStream(body: unknown): body is Readable {
  return body !== null && typeof body === "object" && typeof (body as Readable).pipe === "function";
}

function keyOf(req: FastifyRequest): string | null {
  const h = req.headers["idempotency-key"];
  if (h === undefined) return null;
  const key = Array.isArray(h) ? null : h;
  if (key === null || key.length === 0 || key.length > MAX_KEY_LENGTH || !/^[\x20-\x7e]+$/.test(key)) {
    throw invalid(
      "Idempotency-Key",
      `expected one header of 1 to ${MAX_KEY_LENGTH} printable ASCII characters (a UUID, say)`,
    );
  }
  return key;
}

/** What makes two requests the same: route, its parameters and query, and the body. */
function requestHash(req: FastifyRequest): Hash {
  const h = createHash("sha256");
  h.update(
    JSON.stringify([
      req.method,
      req.routeOptions.url,
      req.params ?? {},
      req.query ?? {},
      String(req.headers["content-type"] ?? "").split(";")[0],
    ]),
  );
  h.update("\n");
  return h;
}

/**
 * Hashes a streamed upload as its route reads it: `req.body` becomes a stream of the same
 * bytes; the promise gives the hash once the last byte went through.
 */
function hashStream(req: FastifyRequest, body: Readable): Promise<string> {
  const h = requestHash(req);
  let resolve!: (hash: string) => void;
  let reject!: (e: Error) => void;
  const done = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  done.catch(() => undefined);
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      resolve(h.digest("hex"));
      cb();
    },
  });
  pipeline(body, tap, (err) => {
    if (err) reject(err);
  });
  req.body = tap;
  return done;
}

function conflict(reply: FastifyReply): never {
  reply.header("retry-after", "1");
  throw new ApiError(
    "conflict",
    "a request with this Idempotency-Key is still being processed; retry shortly to get its answer",
    { path: "Idempotency-Key" },
  );
}

export function registerIdempotency(app: FastifyInstance, slice: Slice): void {
  const lastPurge = new Map<string, number>();
  const keys = (ws: string) => slice.store.workspace(ws).idempotency;

  async function settle(
    req: WithClaim,
    answer: { status: number; type: string | null; body: string } | null,
  ) {
    const c = req[CLAIM];
    if (!c || c.settled) return;
    c.settled = true;
    try {
      if (answer) {
        await keys(c.ws).complete(c.keyId, c.key, {
          status: answer.status,
          content_type: answer.type,
          body: answer.body,
        });
      } else {
        await keys(c.ws).release(c.keyId, c.key);
      }
    } catch (e) {
      req.log.error({ err: e }, "idempotency key not recorded");
    }
  }

  app.addHook("preHandler", async (req: WithClaim, reply) => {
    if (req.method !== "POST" || !req.routeOptions.url?.startsWith("/v1/") || !req.caller) return;
    const key = keyOf(req);
    if (key === null) return;
    const ws = req.caller.workspace.id;
    const keyId = req.caller.key.id;
    const repo = keys(ws);
    const now = slice.clock.now();
    const expiredBefore = now - IDEMPOTENCY_TTL_MS;
    if (now - (lastPurge.get(ws) ?? 0) > PURGE_EVERY_MS) {
      lastPurge.set(ws, now);
      repo.purge(expiredBefore).catch((e) => req.log.warn({ err: e }, "purging idempotency keys failed"));
    }

    const streamed = isStream(req.body);
    const pending = streamed ? hashStream(req, req.body as Readable) : null;
    const hash = streamed
      ? null
      : requestHash(req)
          .update(JSON.stringify(req.body ?? null))
          .digest("hex");

    if (await repo.claim(keyId, key, hash, now, expiredBefore)) {
      req[CLAIM] = { ws, keyId, key, settled: false };
      // An upload that failed half-way has no hash: its key is given back, answered or not.
      pending
        ?.then(
          (h) => repo.setHash(keyId, key, h),
          () => repo.release(keyId, key),
        )
        .catch((e) => req.log.error({ err: e }, "idempotency key not recorded"));
      return;
    }
    const prior = await repo.get(keyId, key);
    if (!prior || prior.status === null || prior.request_hash === null) {
      (req.body as Readable | undefined)?.resume?.();
      conflict(reply);
    }
    let mine = hash;
    if (pending) {
      (req.body as Readable).resume();
      mine = await pending;
    }
    if (mine !== prior.request_hash) {
      return reply.status(422).send({
        error: {
          code: "idempotency_key_reused",
          message:
            "Idempotency-Key: this key was used for a different request in the last 24 hours; use a new key for a new request",
          details: { path: "Idempotency-Key" },
        },
      });
    }
    reply.status(prior.status).header("idempotent-replayed", "true");
    if (prior.content_type) reply.type(prior.content_type);
    return reply.send(prior.body ?? "");
  });

  app.addHook("onSend", async (req: WithClaim, reply, payload) => {
    const c = req[CLAIM];
    if (!c || c.settled) return payload;
    const status = reply.statusCode;
    const text =
      payload === null || payload === undefined
        ? ""
        : typeof payload === "string"
          ? payload
          : Buffer.isBuffer(payload)
            ? payload.toString("utf8")
            : null;
    // A streamed answer cannot be kept; the key is given back rather than replay a part.
    const keep = status < 500 && !TRANSIENT.has(status) && text !== null;
    const type = reply.getHeader("content-type");
    await settle(req, keep ? { status, type: type === undefined ? null : String(type), body: text } : null);
    return payload;
  });
  // No answer was sent (the client went away first): the key is free for its retry.
  app.addHook("onResponse", async (req: WithClaim) => settle(req, null));
  app.addHook("onRequestAbort", async (req: WithClaim) => settle(req, null));
}
