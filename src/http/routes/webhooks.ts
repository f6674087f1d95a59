/**
 * Webhook subscriptions (SPEC §4, docs/webhooks.md): create, read, delete, the delivery
 * log, a test event, redelivery of one delivery, and secret rotation.
 */
import { ApiError, invalid } from "../../service/errors.ts";
import type { Slice } from "../../service/slice.ts";
import { listLimit, WebhookInput } from "../../service/wire.ts";
import type { DeliveryRecord, WebhookRecord } from "../../store/types.ts";
import {
  Webhook,
  WebhookCreated,
  WebhookDelivery,
  WebhookDeliveryPage,
  WebhookList,
  WebhookRotated,
  WebhookTest,
} from "../responses/integrations.ts";
import { defineRoute, type RouteSpec } from "../route.ts";

const iso = (v: number | null) => (v === null ? null : new Date(v).toISOString());

function wireWebhook(h: WebhookRecord, now: number) {
  const overlapping =
    h.previous_secret !== null && h.previous_secret_until !== null && now < h.previous_secret_until;
  return {
    id: h.id,
    url: h.url,
    events: h.events,
    segment_id: h.segment_id,
    created_at: new Date(h.created_at).toISOString(),
    // While set, deliveries are signed with the previous secret too.
    previous_secret_expires_at: overlapping ? iso(h.previous_secret_until) : null,
  };
}

function wireDelivery(d: DeliveryRecord) {
  return {
    ...d,
    created_at: iso(d.created_at),
    updated_at: iso(d.updated_at),
    delivered_at: iso(d.delivered_at),
    next_attempt_at: iso(d.next_attempt_at),
  };
}

function deliveryIdOf(raw: string | undefined): number {
  if (raw === undefined || !/^\d{1,15}$/.test(raw))
    throw invalid("delivery_id", "expected a delivery id (a number)");
  return Number(raw);
}

const tag = "webhooks";

async function requireWebhook(slice: Slice, ws: string, id: string): Promise<WebhookRecord> {
  const h = await slice.store.workspace(ws).webhooks.get(id);
  if (!h) throw new ApiError("not_found", `webhook "${id}" not found`);
  return h;
}

export const WEBHOOK_ROUTES: RouteSpec[] = [
  defineRoute(
    {
      method: "POST",
      path: "/v1/webhooks",
      summary:
        "Subscribe to segment.entered / segment.exited; the signing secret (whsec_…, unless given) is shown once here",
      body: WebhookInput,
      response: WebhookCreated,
      ok: [201],
      tag,
    },
    async ({ slice, ws, body, reply }) => {
      const h = await slice.createWebhook(ws, body);
      reply.status(201);
      return {
        id: h.id,
        url: h.url,
        events: h.events,
        segment_id: h.segment_id,
        secret: h.secret,
        created_at: new Date(h.created_at).toISOString(),
      };
    },
  ),
  defineRoute(
    { method: "GET", path: "/v1/webhooks", summary: "Subscriptions", response: WebhookList, tag },
    async ({ slice, ws }) => {
      const now = slice.clock.now();
      return {
        data: (await slice.store.workspace(ws.id).webhooks.list()).map((h) => wireWebhook(h, now)),
        next_cursor: null,
      };
    },
  ),
  defineRoute(
    { method: "GET", path: "/v1/webhooks/{id}", summary: "A subscription", response: Webhook, tag },
    async ({ slice, ws, params }) =>
      wireWebhook(await requireWebhook(slice, ws.id, params.id!), slice.clock.now()),
  ),
  defineRoute(
    {
      method: "GET",
      path: "/v1/webhooks/{id}/deliveries",
      summary: "A subscription's delivery log, newest first",
      query: ["cursor", "limit"],
      response: WebhookDeliveryPage,
      tag,
    },
    async ({ slice, ws, params, query }) => {
      await requireWebhook(slice, ws.id, params.id!);
      const p = await slice.store.workspace(ws.id).deliveries.list(params.id!, {
        limit: listLimit(query.limit),
        ...(query.cursor ? { cursor: query.cursor } : {}),
      });
      return { data: p.data.map(wireDelivery), next_cursor: p.next_cursor };
    },
  ),
  defineRoute(
    {
      method: "POST",
      path: "/v1/webhooks/{id}/test",
      summary:
        "Send a webhook.test event now, signed as every delivery is; answers the outcome (status code or error) and the delivery",
      response: WebhookTest,
      tag,
    },
    async ({ slice, ws, params }) => {
      const r = await slice.dispatcher.sendTest(ws.id, params.id!);
      return { ok: r.ok, status_code: r.status_code, error: r.error, delivery: wireDelivery(r.delivery) };
    },
  ),
  defineRoute(
    {
      method: "POST",
      path: "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
      summary: "Queue a delivery's payload again (same body and id) as a new delivery, due now",
      response: WebhookDelivery,
      ok: [202],
      tag,
    },
    async ({ slice, ws, params, reply }) => {
      await requireWebhook(slice, ws.id, params.id!);
      const d = await slice.dispatcher.redeliver(ws.id, params.id!, deliveryIdOf(params.delivery_id));
      reply.status(202);
      return wireDelivery(d);
    },
  ),
  defineRoute(
    {
      method: "POST",
      path: "/v1/webhooks/{id}/rotate-secret",
      summary:
        "Make a new signing secret, shown once here; for 24 h deliveries are signed with the new and the old one, then the old one stops",
      response: WebhookRotated,
      tag,
    },
    async ({ slice, ws, params }) => {
      const h = await slice.rotateWebhookSecret(ws, params.id!);
      return { ...wireWebhook(h, slice.clock.now()), secret: h.secret };
    },
  ),
  defineRoute(
    { method: "DELETE", path: "/v1/webhooks/{id}", summary: "Unsubscribe", tag },
    async ({ slice, ws, params }) => {
      await slice.deleteWebhook(ws, params.id!);
    },
  ),
];
