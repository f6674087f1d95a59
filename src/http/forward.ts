/**
 * Every node of a cluster answers for every workspace (docs/cluster.md): a request for a
 * workspace another node serves is forwarded to that node as it came, streamed both ways,
 * so uploads, exports and the change stream (`GET /v1/stream`) pass through unchanged.
 * `@fastify/reply-from` does the streaming proxying; this decides where to.
 *
 * Forwarding happens right after authentication, before the body is read: the owner
 * parses, validates, rate-limits and answers as if called directly. A request for a
 * workspace nobody holds yet (handed over, handed back by a node that stops) waits a
 * moment for the next holder, which takes it within a lease round, and is answered 503
 * with Retry-After only if none comes. A request forwarded to a holder that let go of
 * the workspace meanwhile goes on to the next holder; it is forwarded twice at most, so
 * leases moving back and forth cannot bounce it around.
 */
// Types only (with `reply.from`): the plugin itself is loaded by the one process that forwards.
import type {} from "@fastify/reply-from";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ApiError } from "../service/errors.ts";
import type { Slice } from "../service/slice.ts";

/**
 * How long a request waits for a workspace's next holder before it is answered 503:
 * a hand-over takes a lease round (a tenth of a lease) and the holder's last writes.
 */
export const WAIT_FOR_HOLDER_MS = 2_000;
/** How many times a request may be forwarded. */
const MAX_HOPS = 2;

/** Set on a forwarded request: the nodes that forwarded it, comma-separated. */
export const FORWARDED_BY = "x-slice-forwarded-by";
/** Set on every answer of a cluster node: the node that answered (the holder, if forwarded). */
export const ANSWERED_BY = "x-slice-node";

export interface Forwarding {
  /** This node's name. */
  nodeId: string;
  /** The HTTP URL of the node holding `ws`'s lease, if one does. */
  ownerUrl(ws: string): string | null;
  /** Told of every request not served here (metrics). */
  counted?(outcome: "forwarded" | "unavailable" | "no_answer"): void;
}

/** The workspace a request is for, when it names one: its key's, or a receiver's. */
async function workspaceOf(req: FastifyRequest, slice: Slice): Promise<string | null> {
  if (req.caller) return req.caller.workspace.id;
  if (req.routeOptions.url === "/hooks/:id") {
    const id = (req.params as { id?: string }).id;
    if (id) return (await slice.store.findReceiver(id))?.workspace_id ?? null;
  }
  return null;
}

function unavailable(reply: FastifyReply, message: string): ApiError {
  reply.header("retry-after", "1");
  return new ApiError("unavailable", message);
}

/** Registers the forwarding hook: call after the hook that authenticates. */
export function registerForwarding(app: FastifyInstance, slice: Slice, f: Forwarding): void {
  // No body timeout: the change stream is open for as long as its client listens.
  // Loaded here, by a cluster node, not by every server that imports this module (undici and
  // the plugin take most of a second to load).
  void app.register(import("@fastify/reply-from"), { undici: { headersTimeout: 120_000, bodyTimeout: 0 } });
  app.addHook("onRequest", async (req, reply) => {
    // Which node answered: a forwarded answer carries the holder's, which replaces this.
    reply.raw.setHeader(ANSWERED_BY, f.nodeId);
    const ws = await workspaceOf(req, slice);
    if (ws === null || slice.servesHere(ws)) return;
    const hops = String(req.headers[FORWARDED_BY] ?? "")
      .split(",")
      .filter(Boolean);
    if (hops.length >= MAX_HOPS) {
      f.counted?.("unavailable");
      throw unavailable(reply, `workspace ${ws} moved to another node of the cluster; retry`);
    }
    let owner = f.ownerUrl(ws);
    for (const until = Date.now() + WAIT_FOR_HOLDER_MS; owner === null && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 50));
      // Back here (a paused lease renewed): served as if it had never left.
      if (slice.servesHere(ws)) return;
      owner = f.ownerUrl(ws);
    }
    if (owner === null) {
      f.counted?.("unavailable");
      throw unavailable(reply, `workspace ${ws} is being taken over by a node of the cluster; retry`);
    }
    // Not parsed yet: the body goes on as the client sent it (compressed, a CSV upload…).
    if (req.method !== "GET" && req.method !== "HEAD") (req as { body: unknown }).body = req.raw;
    f.counted?.("forwarded");
    reply.from(`${owner}${req.url}`, {
      rewriteRequestHeaders: (_req, headers) => ({
        ...headers,
        [FORWARDED_BY]: [...hops, f.nodeId].join(","),
      }),
      onError: (r) => {
        f.counted?.("no_answer");
        r.header("retry-after", "1")
          .code(503)
          .send({
            error: {
              code: "unavailable",
              message: `workspace ${ws}: its node at ${owner} did not answer; retry`,
            },
          });
      },
    });
    return reply;
  });
}
