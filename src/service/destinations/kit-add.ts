/**
 * Putting contacts into a Kit tag, the two ways Kit allows (kit.ts explains which is
 * used when), and the subscriber `state` each consent value is created in (the table
 * at the top of kit.ts).
 */
import { consentOf, maySubscribe } from "./consent.ts";
import { ProviderError } from "./http-call.ts";
import { type KitApi, kitErrors, readFailures, readSubscriber, readSubscribers } from "./kit-api.ts";
import { BatchRejected, type RowOutcome, type SyncContact } from "./types.ts";

export type KitState = "active" | "inactive" | "cancelled" | "bounced" | "complained";

/** The `state` to create a subscriber in; undefined leaves Kit's default (`active`). */
export function kitStateFor(c: SyncContact): Exclude<KitState, "active"> | undefined {
  if (maySubscribe(c)) return undefined;
  switch (consentOf(c)) {
    case "unsubscribed":
      return "cancelled";
    case "hard_bounced":
      return "bounced";
    case "complained":
      return "complained";
    default:
      return "inactive";
  }
}

/** The body of `POST /subscribers`, and an item of `POST /bulk/subscribers`. */
export function createBody(c: SyncContact): Record<string, string> {
  const state = kitStateFor(c);
  return {
    email_address: c.email!.trim(),
    ...(c.first_name ? { first_name: c.first_name } : {}),
    ...(state ? { state } : {}),
  };
}

/** Called when Kit says the tag does not exist; always throws. */
export type TagMissing = (tagId: number) => Promise<never>;

const norm = (email: string) => email.trim().toLowerCase();

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

/**
 * OAuth: `POST /bulk/subscribers` then `POST /bulk/tags/subscribers`, at most 100 each.
 * Kit names failed rows by the email it was given, or echoes an invalid email as null:
 * those failures are paired with the rows left over, in order, when the counts agree.
 */
export async function addBulk(
  api: KitApi,
  tagId: number,
  contacts: SyncContact[],
  tagMissing: TagMissing,
): Promise<RowOutcome[]> {
  const res = await api.send({
    method: "POST",
    path: "/bulk/subscribers",
    body: { subscribers: contacts.map(createBody) },
    accept: [422],
  });
  if (res.status === 422) {
    if (contacts.length > 1) throw new BatchRejected(kitErrors(res), 422);
    return [{ contact_id: contacts[0].id, status: "failed", error: kitErrors(res) }];
  }
  if (res.status !== 200) {
    throw new ProviderError(
      `Kit did not process the batch synchronously (HTTP ${res.status})`,
      res.status,
      false,
    );
  }
  const created = new Map(readSubscribers(res.body).map((sub) => [sub.email, sub]));
  const failures = readFailures(res.body);
  const emails = new Set(contacts.map((c) => norm(c.email!)));
  const named = (c: SyncContact) => failures.find((f) => f.email === norm(c.email!));
  const anonymous = failures.filter((f) => f.email === null || !emails.has(f.email));
  const left = contacts.filter((c) => !created.has(norm(c.email!)) && !named(c));
  const rows: RowOutcome[] = [];
  for (const c of contacts) {
    if (created.has(norm(c.email!))) continue;
    let error = named(c)?.errors;
    if (!error) {
      const i = left.indexOf(c);
      const all = unique(anonymous.map((f) => f.errors)).join(" | ");
      error =
        anonymous.length === left.length ? anonymous[i].errors : `not created by Kit${all ? `: ${all}` : ""}`;
    }
    rows.push({ contact_id: c.id, status: "failed", error });
  }

  const ids = [...new Set([...created.values()].map((sub) => sub.id))];
  if (ids.length === 0) return rows;
  const tag = await api.send({
    method: "POST",
    path: "/bulk/tags/subscribers",
    body: { taggings: ids.map((id) => ({ tag_id: tagId, subscriber_id: id })) },
  });
  if (tag.status !== 200) {
    throw new ProviderError(
      `Kit did not tag the batch synchronously (HTTP ${tag.status})`,
      tag.status,
      false,
    );
  }
  const tagFailures = readFailures(tag.body);
  if (tagFailures.some((f) => /tag does not exist/i.test(f.errors))) await tagMissing(tagId);
  const tagged = new Set(readSubscribers(tag.body).map((sub) => sub.id));
  const unattributed = tagFailures.filter((f) => f.subscriberId === null || !ids.includes(f.subscriberId));
  for (const c of contacts) {
    const sub = created.get(norm(c.email!));
    if (!sub) continue;
    const failure = tagFailures.find((f) => f.subscriberId === sub.id);
    if (failure) rows.push({ contact_id: c.id, status: "failed", error: failure.errors });
    else if (!tagged.has(sub.id) && unattributed.length > 0) {
      const error = `not tagged by Kit: ${unique(unattributed.map((f) => f.errors)).join(" | ")}`;
      rows.push({ contact_id: c.id, status: "failed", error });
    } else rows.push({ contact_id: c.id, status: "ok", remote_key: String(sub.id) });
  }
  return rows;
}

/** API key: `POST /subscribers` (an upsert) then `POST /tags/{tag_id}/subscribers/{id}`. */
export async function addOne(
  api: KitApi,
  tagId: number,
  c: SyncContact,
  tagMissing: TagMissing,
): Promise<RowOutcome> {
  const res = await api.send({ method: "POST", path: "/subscribers", body: createBody(c), accept: [422] });
  if (res.status === 422) return { contact_id: c.id, status: "failed", error: kitErrors(res) };
  const body = res.body as { subscriber?: unknown } | null;
  const sub = readSubscriber(body?.subscriber);
  if (!sub) return { contact_id: c.id, status: "failed", error: "Kit answered without a subscriber" };
  const tag = await api.send({
    method: "POST",
    path: `/tags/${tagId}/subscribers/${sub.id}`,
    body: {},
    accept: [404, 422],
  });
  // The subscriber was just made or found, so a 404 names the tag.
  if (tag.status === 404) await tagMissing(tagId);
  if (tag.status === 422) return { contact_id: c.id, status: "failed", error: kitErrors(tag) };
  return { contact_id: c.id, status: "ok", remote_key: String(sub.id) };
}
