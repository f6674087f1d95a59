/**
 * Kit (formerly ConvertKit), API v4: a segment's members are the subscribers carrying
 * one Kit tag (`tag_id`, or `tag_name` found or made at the first sync and kept in the
 * destination's state). `remote_key` is the Kit subscriber id as a string: taking the
 * tag off is done by id (`DELETE /tags/{tag_id}/subscribers/{id}`), which survives an
 * email change made in Kit.
 *
 * How contacts are sent depends on the credential, because Kit's bulk endpoints accept
 * OAuth tokens only:
 * - `access_token` (OAuth): per batch of up to 100, `POST /bulk/subscribers` then
 *   `POST /bulk/tags/subscribers`; both are synchronous up to 100 items (asynchronous,
 *   answered 202, above: never sent).
 * - `api_key` (v4 API key): per contact, `POST /subscribers` (an upsert) then
 *   `POST /tags/{tag_id}/subscribers/{id}`.
 * Removal is one `DELETE /tags/{tag_id}/subscribers/{id}` per member with either
 * credential (the bulk removal's request body is not documented). Requests are paced
 * under Kit's budget per credential (120 per rolling 60 s for an API key, 600 for OAuth).
 *
 * Consent (consent.ts decides; Slice may lower consent on Kit, never raise it). What is
 * sent as the subscriber's `state` for each consent value (`kitStateFor`, kit-add.ts):
 *
 * | consent          | sent to Kit                                                   |
 * |------------------|---------------------------------------------------------------|
 * | `subscribed`     | no `state` field: a new subscriber gets Kit's default, `active` |
 * | `non_subscribed` | `state: "inactive"` (never mailed until confirmed)            |
 * | `unsubscribed`   | `state: "cancelled"`                                          |
 * | `hard_bounced`   | `state: "bounced"`                                            |
 * | `complained`     | `state: "complained"`                                         |
 *
 * All five are tagged (the tag is segment membership, not consent). Kit applies `state`
 * only when it creates the subscriber: for an existing one, `POST /subscribers` updates
 * the first name only ("Updating the subscriber state with this endpoint is not
 * supported"), and Slice sends no state change by any other call, so an existing Kit
 * subscriber keeps the state Kit has (Slice never moves one to `active`; it does not
 * unsubscribe one in Kit either). The bulk endpoint's treatment of an existing
 * subscriber's state is not documented; leaving `state` out for `subscribed` contacts
 * means Slice never asks for `active` there. Only `first_name` is sent besides the
 * email: Kit custom fields must exist in the account beforehand.
 */
import { createHash } from "node:crypto";
import { ProviderError } from "./http-call.ts";
import { addBulk, addOne, createBody } from "./kit-add.ts";
import { KitApi, kitErrors, mapPool, readTagId, readTotalCount } from "./kit-api.ts";
import { KIT_KIND, type KitSettings, kitSettings, parseKitConfig, redactedHeaders } from "./kit-config.ts";
import { type PacerClock, RollingWindow } from "./kit-pacer.ts";
import type {
  BatchResult,
  Connector,
  ConnectorContext,
  PlannedRequest,
  RemoteMember,
  RowOutcome,
  SyncContact,
} from "./types.ts";

export { type KitState, kitStateFor } from "./kit-add.ts";
export { KIT_KIND } from "./kit-config.ts";

export interface KitConnectorOptions {
  /**
   * Requests per window the connector allows itself per credential. Kit allows 120 per
   * 60 s for an API key and 600 for an OAuth token; the defaults keep a margin for clock
   * skew and for retries, which are not paced.
   */
  budget?: { api_key: number; oauth: number };
  windowMs?: number;
  clock?: PacerClock;
}

const BATCH = 100;
/** Single calls in flight per `add`/`remove` (the pacer sets the rate; this only hides latency). */
const POOL = 4;

export function createKitConnector(opts: KitConnectorOptions = {}): Connector {
  const budget = opts.budget ?? { api_key: 110, oauth: 550 };
  const windowMs = opts.windowMs ?? 60_000;
  const pacers = new Map<string, RollingWindow>();
  const tagLookups = new Map<string, Promise<number>>();

  /** One budget per credential: destinations sharing a key share Kit's limit too. */
  function apiFor(ctx: ConnectorContext, s: KitSettings): KitApi {
    const key = `${s.auth}:${createHash("sha256").update(s.credential).digest("hex")}`;
    let pacer = pacers.get(key);
    if (!pacer) {
      pacer = new RollingWindow(budget[s.auth], windowMs, opts.clock);
      pacers.set(key, pacer);
    }
    return new KitApi(ctx.http, s, pacer);
  }

  function knownTag(ctx: ConnectorContext, s: KitSettings): number | null {
    if (s.tagId !== null) return s.tagId;
    const { state } = ctx;
    return state.tag_name === s.tagName && typeof state.tag_id === "number" ? state.tag_id : null;
  }

  /** `POST /tags {name}` answers the existing tag (200) or makes it (201). */
  async function resolveTag(ctx: ConnectorContext, s: KitSettings, api: KitApi): Promise<number> {
    const known = knownTag(ctx, s);
    if (known !== null) return known;
    let lookup = tagLookups.get(ctx.destinationId);
    if (!lookup) {
      lookup = (async () => {
        const res = await api.send({
          method: "POST",
          path: "/tags",
          body: { name: s.tagName },
          accept: [422],
        });
        const id = res.status === 422 ? null : readTagId(res.body);
        if (id === null)
          throw new ProviderError(`Kit tag "${s.tagName}": ${kitErrors(res)}`, res.status, false);
        ctx.state.tag_id = id;
        ctx.state.tag_name = s.tagName;
        await ctx.saveState(ctx.state);
        return id;
      })().finally(() => tagLookups.delete(ctx.destinationId));
      tagLookups.set(ctx.destinationId, lookup);
    }
    return lookup;
  }

  /** The tag is gone from Kit: a named tag is made again at the next pass, a configured id cannot be. */
  async function tagMissing(ctx: ConnectorContext, s: KitSettings, tagId: number): Promise<never> {
    if (s.tagId === null) {
      delete ctx.state.tag_id;
      delete ctx.state.tag_name;
      await ctx.saveState(ctx.state);
    }
    throw new ProviderError(`Kit tag ${tagId} does not exist`, 404, s.tagId === null);
  }

  function split(contacts: SyncContact[]): { send: SyncContact[]; skipped: RowOutcome[] } {
    const send: SyncContact[] = [];
    const skipped: RowOutcome[] = [];
    for (const c of contacts) {
      if (c.email && c.email.trim() !== "") send.push(c);
      else skipped.push({ contact_id: c.id, status: "skipped", error: "no email" });
    }
    return { send, skipped };
  }

  const validKey = (m: RemoteMember) => /^[1-9]\d{0,17}$/.test(m.remote_key);

  function planned(
    s: KitSettings,
    method: string,
    path: string,
    body: unknown,
    rows: number,
  ): PlannedRequest {
    return { method, url: `${s.baseUrl}${path}`, headers: redactedHeaders(s), body, rows };
  }

  function tagForPlan(ctx: ConnectorContext, s: KitSettings, out: PlannedRequest[]): number | string {
    const known = knownTag(ctx, s);
    if (known !== null) return known;
    out.push(planned(s, "POST", "/tags", { name: s.tagName }, 0));
    return `<id of tag "${s.tagName}">`;
  }

  return {
    kind: KIT_KIND,
    limits: { batchSize: BATCH, concurrency: 2 },

    parseConfig: parseKitConfig,

    async add(ctx, contacts): Promise<BatchResult> {
      const s = kitSettings(ctx);
      const { send, skipped } = split(contacts);
      if (send.length === 0) return { rows: skipped };
      const api = apiFor(ctx, s);
      const tagId = await resolveTag(ctx, s, api);
      const missing = (id: number) => tagMissing(ctx, s, id);
      const rows =
        s.auth === "oauth"
          ? await addBulk(api, tagId, send, missing)
          : await mapPool(send, POOL, (c) => addOne(api, tagId, c, missing));
      return { rows: [...skipped, ...rows] };
    },

    async remove(ctx, members): Promise<BatchResult> {
      const s = kitSettings(ctx);
      const bad = members.filter((m) => !validKey(m));
      const rows: RowOutcome[] = bad.map((m) => ({
        contact_id: m.contact_id,
        status: "failed",
        error: `remote_key ${JSON.stringify(m.remote_key)} is not a Kit subscriber id`,
      }));
      const good = members.filter(validKey);
      if (good.length === 0) return { rows };
      const api = apiFor(ctx, s);
      const tagId = await resolveTag(ctx, s, api);
      const done = await mapPool(good, POOL, async (m): Promise<RowOutcome> => {
        // 404: the subscriber or the tag is gone, so the member is out already.
        await api.send({
          method: "DELETE",
          path: `/tags/${tagId}/subscribers/${m.remote_key}`,
          accept: [404],
        });
        return { contact_id: m.contact_id, status: "ok" };
      });
      return { rows: [...rows, ...done] };
    },

    planAdd(ctx, contacts): PlannedRequest[] {
      const s = kitSettings(ctx);
      const { send } = split(contacts);
      const out: PlannedRequest[] = [];
      if (send.length === 0) return out;
      const tagId = tagForPlan(ctx, s, out);
      const idOf = (c: SyncContact) => `<subscriber id of ${c.email!.trim()}>`;
      if (s.auth === "oauth") {
        out.push(planned(s, "POST", "/bulk/subscribers", { subscribers: send.map(createBody) }, send.length));
        const taggings = send.map((c) => ({ tag_id: tagId, subscriber_id: idOf(c) }));
        out.push(planned(s, "POST", "/bulk/tags/subscribers", { taggings }, send.length));
        return out;
      }
      for (const c of send) {
        out.push(planned(s, "POST", "/subscribers", createBody(c), 1));
        out.push(planned(s, "POST", `/tags/${tagId}/subscribers/${idOf(c)}`, {}, 1));
      }
      return out;
    },

    planRemove(ctx, members): PlannedRequest[] {
      const s = kitSettings(ctx);
      const out: PlannedRequest[] = [];
      const good = members.filter(validKey);
      if (good.length === 0) return out;
      const tagId = tagForPlan(ctx, s, out);
      for (const m of good)
        out.push(planned(s, "DELETE", `/tags/${tagId}/subscribers/${m.remote_key}`, null, 1));
      return out;
    },

    /** Tagged subscribers in every state; null until a named tag has been found or made. */
    async remoteSize(ctx): Promise<number | null> {
      const s = kitSettings(ctx);
      const tagId = knownTag(ctx, s);
      if (tagId === null) return null;
      const res = await apiFor(ctx, s).send({
        method: "GET",
        path: `/tags/${tagId}/subscribers?status=all&per_page=1&include_total_count=true`,
        accept: [404],
      });
      return res.status === 404 ? null : readTotalCount(res.body);
    },
  };
}
