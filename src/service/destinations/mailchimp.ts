/**
 * Mailchimp (Marketing API 3.0): a segment is a tag on the members of one audience.
 *
 * add: the contacts are upserted into the audience by "batch subscribe or unsubscribe"
 * (`POST /lists/{list_id}`, at most 500 members a call), then tagged: the tag is a static
 * segment (`POST /lists/{list_id}/segments/{segment_id}` with `members_to_add`, at most
 * 500 emails), found by name or created at the first sync, its id kept in the
 * destination's state. remove: the tag is taken off (`members_to_remove`); members are
 * never deleted nor unsubscribed by a removal. remote_key: the lower-cased email.
 *
 * What is sent for each consent (consent.ts decides which one a contact has):
 *
 * | Slice consent  | batch subscribe call   | status sent     | new member                 | existing member           |
 * |----------------|------------------------|-----------------|----------------------------|---------------------------|
 * | subscribed     | update_existing: false | `subscribed`    | created, subscribed        | left as it is             |
 * | non_subscribed | update_existing: false | `transactional` | created, non-subscribed    | left as it is             |
 * | unsubscribed   | update_existing: true  | `unsubscribed`  | created, unsubscribed      | set to unsubscribed       |
 * | hard_bounced   | update_existing: true  | `unsubscribed`  | created, unsubscribed      | set to unsubscribed       |
 * | complained     | update_existing: true  | `unsubscribed`  | created, unsubscribed      | set to unsubscribed       |
 *
 * ("left as it is": status and merge fields unchanged, whatever they are on Mailchimp.)
 * Every one of them is then tagged. Why two calls: in batch subscribe, `status` is
 * required for every member and `update_existing: true` applies it to existing members
 * too, so sending `subscribed` that way would re-subscribe someone who unsubscribed on
 * Mailchimp. With `update_existing: false` Mailchimp leaves an existing member alone and
 * names it in `errors` with `ERROR_CONTACT_EXISTS`, which counts as a success here (the
 * member is in the audience and gets the tag). Lowering (the last three lines) may
 * change an existing member, so those go with `update_existing: true`.
 * `cleaned` is Mailchimp's own state for addresses its bounce handling removed; the
 * reference does not say the API accepts it as an input for a new member, so hard
 * bounces are sent as `unsubscribed`, which it does accept and which is not mailable.
 * Merge fields: FNAME and LNAME (in every audience by default) when known, with
 * `skip_merge_validation` so that audiences with other required fields still accept.
 *
 * Concurrency: Mailchimp allows 10 simultaneous connections per API key; an `add`
 * makes its calls one after the other, so `concurrency` is the number of connections
 * Slice opens at most. 5 leaves room for `remoteSize`, other destinations on the same
 * key and the customer's own integrations.
 */
import { ProviderError } from "./http-call.ts";
import { mailchimpSettings, parseMailchimpConfig, type Settings } from "./mailchimp-config.ts";
import { keyOf, num, type Row, readSubscribeAnswer, rowsOf, segmentErrors } from "./mailchimp-rows.ts";
import { MailchimpApi } from "./mailchimp-sdk.ts";
import { ensureSegment, findSegment, readCachedSegment, type SegmentCache } from "./mailchimp-segment.ts";
import {
  BatchRejected,
  type BatchResult,
  type CallStats,
  type Connector,
  type ConnectorContext,
  type PlannedRequest,
  type RemoteMember,
  type RowOutcome,
} from "./types.ts";

export const MAILCHIMP_KIND = "mailchimp" as const;

/** Members per batch subscribe, emails per segment call (both documented maximums). */
export const MAILCHIMP_BATCH_MAX = 500;

export interface MailchimpOptions {
  /** Contacts per `add` call (at most 500). */
  batchSize?: number;
  /** `add`/`remove` calls in flight at once (at most 10, Mailchimp's per-key limit). */
  concurrency?: number;
}

const REDACTED_HEADERS = { Authorization: "<redacted>", "Content-Type": "application/json" };

export function createMailchimpConnector(opts: MailchimpOptions = {}): Connector {
  const batchSize = Math.min(MAILCHIMP_BATCH_MAX, Math.max(1, opts.batchSize ?? MAILCHIMP_BATCH_MAX));
  const concurrency = Math.min(10, Math.max(1, opts.concurrency ?? 5));
  // Concurrent first batches of one destination share one lookup/creation of the tag.
  const pending = new Map<string, Promise<SegmentCache>>();

  async function segmentFor(ctx: ConnectorContext, s: Settings, api: MailchimpApi): Promise<number> {
    const cached = readCachedSegment(ctx.state, s.listId, s.tag);
    if (cached !== null) return cached;
    const memo = `${ctx.destinationId}\n${s.listId}\n${s.tag}`;
    let p = pending.get(memo);
    if (!p) {
      p = ensureSegment(api, s.listId, s.tag).finally(() => pending.delete(memo));
      pending.set(memo, p);
    }
    const seg = await p;
    if (readCachedSegment(ctx.state, s.listId, s.tag) !== seg.id) {
      ctx.state.mailchimp_segment = { ...seg };
      await ctx.saveState(ctx.state);
    }
    return seg.id;
  }

  /** The segment call, finding the tag again once if it was deleted on Mailchimp meanwhile. */
  async function tagCall(
    ctx: ConnectorContext,
    s: Settings,
    api: MailchimpApi,
    body: { members_to_add?: string[]; members_to_remove?: string[] },
    create: boolean,
  ): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const id = create ? await segmentFor(ctx, s, api) : await existingSegment(ctx, s, api);
      if (id === null) return null;
      try {
        return await api.segmentMembers(s.listId, id, body);
      } catch (e) {
        if (!(e instanceof ProviderError) || e.status !== 404 || attempt > 0) throw e;
        delete ctx.state.mailchimp_segment;
        await ctx.saveState(ctx.state);
      }
    }
  }

  async function existingSegment(
    ctx: ConnectorContext,
    s: Settings,
    api: MailchimpApi,
  ): Promise<number | null> {
    const cached = readCachedSegment(ctx.state, s.listId, s.tag);
    if (cached !== null) return cached;
    const found = await findSegment(api, s.listId, s.tag);
    if (found === null) return null;
    ctx.state.mailchimp_segment = { ...found };
    await ctx.saveState(ctx.state);
    return found.id;
  }

  function plannedSubscribe(s: Settings, rows: Row[], updateExisting: boolean): PlannedRequest | null {
    const members = rows.filter((r) => r.updateExisting === updateExisting).map((r) => r.member);
    if (members.length === 0) return null;
    return {
      method: "POST",
      url: `${s.baseUrl}/lists/${encodeURIComponent(s.listId)}?skip_merge_validation=true`,
      headers: { ...REDACTED_HEADERS },
      body: { members, update_existing: updateExisting },
      rows: members.length,
    };
  }

  function segmentUrl(ctx: ConnectorContext, s: Settings): string {
    const id = readCachedSegment(ctx.state, s.listId, s.tag);
    return `${s.baseUrl}/lists/${encodeURIComponent(s.listId)}/segments/${id ?? "{segment_id}"}`;
  }

  return {
    kind: MAILCHIMP_KIND,
    limits: { batchSize, concurrency },
    parseConfig: parseMailchimpConfig,

    async add(ctx, contacts) {
      const s = mailchimpSettings(ctx);
      const api = new MailchimpApi(s.baseUrl, s.apiKey, ctx.http.policy);
      const out: RowOutcome[] = [];
      const rows = rowsOf(contacts, out);
      const failed = new Map<string, string>();
      const stats: CallStats = { created: 0, updated: 0, existing: 0, tagged: 0 };
      for (const updateExisting of [false, true]) {
        const members = rows.filter((r) => r.updateExisting === updateExisting).map((r) => r.member);
        if (members.length === 0) continue;
        let body: unknown;
        try {
          body = await api.batchSubscribe(s.listId, { members, update_existing: updateExisting });
        } catch (e) {
          // A 400 here refuses the whole request (schema) without naming rows: let the syncer split it.
          if (e instanceof ProviderError && e.status === 400) throw new BatchRejected(e.message, 400);
          throw e;
        }
        const answer = readSubscribeAnswer(body);
        stats.created += answer.created;
        stats.updated += answer.updated;
        for (const err of answer.errors) {
          if (err.code === "ERROR_CONTACT_EXISTS") stats.existing++;
          else failed.set(err.key, err.code ? `${err.code}: ${err.message}` : err.message);
        }
      }
      const toTag = rows.filter((r) => !failed.has(r.key)).map((r) => r.member.email_address);
      if (toTag.length > 0) {
        const body = await tagCall(ctx, s, api, { members_to_add: toTag }, true);
        stats.tagged = num(body, "total_added");
        for (const [key, message] of segmentErrors(body)) if (!failed.has(key)) failed.set(key, message);
      }
      for (const r of rows) {
        const error = failed.get(r.key);
        for (const id of r.contactIds) {
          out.push(
            error === undefined
              ? { contact_id: id, status: "ok", remote_key: r.key }
              : { contact_id: id, status: "failed", error },
          );
        }
      }
      return { rows: out, stats };
    },

    async remove(ctx, members) {
      const s = mailchimpSettings(ctx);
      const api = new MailchimpApi(s.baseUrl, s.apiKey, ctx.http.policy);
      const keys = [...new Set(members.map((m) => keyOf(m.remote_key)))];
      const body = keys.length > 0 ? await tagCall(ctx, s, api, { members_to_remove: keys }, false) : null;
      const errors = segmentErrors(body);
      const rows: RowOutcome[] = members.map((m) => {
        const error = errors.get(keyOf(m.remote_key));
        return error === undefined
          ? { contact_id: m.contact_id, status: "ok" }
          : { contact_id: m.contact_id, status: "failed", error };
      });
      const result: BatchResult = { rows };
      if (body !== null) result.stats = { untagged: num(body, "total_removed") };
      return result;
    },

    planAdd(ctx, contacts) {
      const s = mailchimpSettings(ctx);
      const rows = rowsOf(contacts, []);
      const plan = [plannedSubscribe(s, rows, false), plannedSubscribe(s, rows, true)].filter(
        (p): p is PlannedRequest => p !== null,
      );
      if (rows.length > 0) {
        plan.push({
          method: "POST",
          url: segmentUrl(ctx, s),
          headers: { ...REDACTED_HEADERS },
          body: { members_to_add: rows.map((r) => r.member.email_address) },
          rows: rows.length,
        });
      }
      return plan;
    },

    planRemove(ctx, members: RemoteMember[]) {
      const s = mailchimpSettings(ctx);
      const keys = [...new Set(members.map((m) => keyOf(m.remote_key)))];
      if (keys.length === 0) return [];
      return [
        {
          method: "POST",
          url: segmentUrl(ctx, s),
          headers: { ...REDACTED_HEADERS },
          body: { members_to_remove: keys },
          rows: members.length,
        },
      ];
    },

    async remoteSize(ctx) {
      const s = mailchimpSettings(ctx);
      const api = new MailchimpApi(s.baseUrl, s.apiKey, ctx.http.policy);
      for (let attempt = 0; ; attempt++) {
        // No tag on Mailchimp yet: nobody carries it.
        const id = await existingSegment(ctx, s, api);
        if (id === null) return 0;
        try {
          return num(await api.getSegment(s.listId, id), "member_count");
        } catch (e) {
          if (!(e instanceof ProviderError) || e.status !== 404 || attempt > 0) throw e;
          delete ctx.state.mailchimp_segment;
          await ctx.saveState(ctx.state);
        }
      }
    },
  };
}
