/**
 * Data coming in from other tools (docs/ingest.md): receivers of sending platforms'
 * event webhooks, the public `/hooks/{id}` they post to, and every source's counters.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ReceiverInput, ReceiverPatch } from "../../service/receiving.ts";
import type { Slice } from "../../service/slice.ts";
import { Receiver, ReceiverCreated, ReceiverList, SourceList } from "../responses/integrations.ts";
import { defineRoute, type RouteSpec } from "../route.ts";

/** Biggest webhook body taken: SendGrid and SES batch far less than this. */
const HOOK_BODY_LIMIT = 10 * 1024 * 1024;

/** The start of the URL a provider posts to: the configured public URL, or the address the client reached. */
export function baseUrl(req: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, "");
  return `${req.protocol}://${req.host}`;
}

export const RECEIVER_ROUTES: RouteSpec[] = [
  defineRoute(
    {
      method: "POST",
      path: "/v1/receivers",
      summary:
        "Create a receiver of a sending platform's event webhooks (SendGrid, Mailgun, SES, Postmark, Resend)",
      body: ReceiverInput,
      response: ReceiverCreated,
      ok: [201],
      tag: "receivers",
    },
    async ({ slice, publicUrl, caller, body, req, reply }) => {
      const r = await slice.receiving.create(caller.workspace.id, body, baseUrl(req, publicUrl));
      reply.status(201);
      return r;
    },
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/receivers",
      summary: "Receivers, with their counters",
      response: ReceiverList,
      tag: "receivers",
    },
    async ({ slice, publicUrl, caller, req }) => ({
      data: await slice.receiving.list(caller.workspace.id, baseUrl(req, publicUrl)),
      next_cursor: null,
    }),
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/receivers/{id}",
      summary: "A receiver: its URL, counters and last deliveries",
      response: Receiver,
      tag: "receivers",
    },
    ({ slice, publicUrl, caller, params, req }) =>
      slice.receiving.get(caller.workspace.id, params.id!, baseUrl(req, publicUrl)),
  ),
  defineRoute(
    {
      method: "PATCH",
      path: "/v1/receivers/{id}",
      summary: "Rename a receiver or change its settings (a new signing key takes effect at once)",
      body: ReceiverPatch,
      response: Receiver,
      tag: "receivers",
    },
    ({ slice, publicUrl, caller, params, body, req }) =>
      slice.receiving.update(caller.workspace.id, params.id!, body, baseUrl(req, publicUrl)),
  ),
  defineRoute(
    { method: "DELETE", path: "/v1/receivers/{id}", summary: "Delete a receiver", tag: "receivers" },
    async ({ slice, caller, params }) => {
      await slice.receiving.delete(caller.workspace.id, params.id!);
    },
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/sources",
      summary: "Counters of every source: Segment-compatible ingest and each receiver",
      response: SourceList,
      tag: "receivers",
    },
    async ({ slice, caller }) => {
      const ws = caller.workspace.id;
      const receivers = await slice.store.workspace(ws).receivers.list();
      return {
        data: [
          {
            type: "segment",
            id: "segment",
            name: "Segment / RudderStack SDKs",
            ...slice.sources.counters(ws, "segment"),
          },
          ...receivers.map((r) => ({
            type: "receiver",
            id: r.id,
            provider: r.provider,
            name: r.name,
            ...slice.sources.counters(ws, r.id),
          })),
        ],
        next_cursor: null,
      };
    },
  ),
];

/**
 * `POST /hooks/{id}`, authenticated by the provider's signature instead of a key. Its
 * own scope takes any body as bytes: signatures are over the exact bytes sent.
 */
export function registerHookRoute(app: FastifyInstance, slice: Slice): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: HOOK_BODY_LIMIT }, (_req, body, done) =>
    done(null, body),
  );
  app.post<{ Params: { id: string } }>("/hooks/:id", { bodyLimit: HOOK_BODY_LIMIT }, async (req) => {
    const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    return slice.receiving.receive(
      req.params.id,
      { headers: req.headers, rawBody, now: slice.clock.now() },
      (id) => slice.workspace(id),
    );
  });
}
