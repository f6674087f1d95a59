/**
 * Brevo (API v3): a segment is kept as the membership of one contact list (`list_id`).
 * The remote key is the lower-cased email. Config `{api_key (secret), list_id, api_url?}`.
 *
 * Brevo has no "subscribed / not subscribed" flag beside its email blocklist
 * (`emailBlacklisted`): a contact that is not blocklisted receives campaigns. Adding to
 * a list (`POST /contacts/lists/{id}/contacts/add`, 150 addresses a call) works only for
 * contacts that exist and leaves their blocklist flag alone; contacts it does not add
 * (unknown, or already in the list: Brevo does not say which) are then imported with
 * `POST /contacts/import` (asynchronous; see brevo-import.ts for how the connector knows
 * it landed) with `updateExistingContacts: false`, so that the import cannot touch an
 * existing contact, blocklisted or not.
 *
 * What is sent for each consent (consent.ts):
 *
 * | consent          | contact already in Brevo                     | contact unknown to Brevo                      |
 * |------------------|----------------------------------------------|-----------------------------------------------|
 * | `subscribed`     | added to the list; blocklist flag untouched  | imported into the list, `emailBlacklist: false`, |
 * |                  | (a blocklisted contact stays blocklisted)    | `updateExistingContacts: false`: mailable      |
 * | `non_subscribed` | added to the list; blocklist flag untouched  | imported into the list, `emailBlacklist: true`, |
 * |                  |                                              | `updateExistingContacts: false`: blocklisted   |
 * | `unsubscribed`   | imported into the list, `emailBlacklist: true`, `updateExistingContacts: true`:  |
 * | `hard_bounced`   | blocklisted whether new or existing (Slice lowers the consent Brevo holds)       |
 * | `complained`     |                                                                                  |
 *
 * No call ever sends `emailBlacklisted: false` for an existing contact, so nobody is taken
 * off Brevo's blocklist. Imports carry `FIRSTNAME` / `LASTNAME` when Slice has them
 * (Brevo ignores attributes the account does not define). Contacts without an email are
 * skipped ("no email"). Removal takes contacts out of the list only; they stay in Brevo.
 */
import type { BrevoError } from "@getbrevo/brevo";
import type { JsonObject } from "../../store/types.ts";
import { BREVO_API_URL, brevoCall, brevoErrorBody, isBrevoError } from "./brevo-client.ts";
import {
  DEFAULT_IMPORT_WAIT,
  type ImportOutcome,
  type ImportRow,
  type ImportSpec,
  type ImportWait,
  importBody,
  runImport,
} from "./brevo-import.ts";
import { consentOf } from "./consent.ts";
import {
  BatchRejected,
  type BatchResult,
  ConfigError,
  type Connector,
  type ConnectorContext,
  type ParsedConfig,
  type PlannedRequest,
  type RemoteMember,
  type RowOutcome,
  type SyncContact,
} from "./types.ts";

export const BREVO_KIND = "brevo" as const;

/** Documented maximum of addresses per list add / remove call. */
export const BREVO_MAX_EMAILS = 150;

export interface BrevoConnectorOptions {
  /** How the connector waits for an import's process (tests shorten it). */
  importWait?: Partial<ImportWait>;
}

const CONFIG_KEYS = new Set(["api_key", "list_id", "api_url"]);

export function parseBrevoConfig(input: unknown): ParsedConfig {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ConfigError("", "config must be an object");
  }
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!CONFIG_KEYS.has(k)) throw new ConfigError(k, "unknown setting");
  if (typeof o.api_key !== "string" || o.api_key.trim() === "") {
    throw new ConfigError("api_key", "api_key must be a non-empty string (a Brevo API v3 key)");
  }
  const listId = o.list_id;
  if (typeof listId !== "number" || !Number.isSafeInteger(listId) || listId < 1) {
    throw new ConfigError("list_id", "list_id must be a positive integer (the id of a Brevo contact list)");
  }
  const config: JsonObject = { list_id: listId };
  if (o.api_url !== undefined) {
    let url: URL | null = null;
    try {
      url = typeof o.api_url === "string" ? new URL(o.api_url) : null;
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
      throw new ConfigError("api_url", "api_url must be an absolute http or https URL");
    }
    config.api_url = url.href.replace(/\/+$/, "");
  }
  return { config, secrets: { api_key: o.api_key.trim() } };
}

function listIdOf(ctx: ConnectorContext): number {
  return Number(ctx.config.list_id);
}

function apiOf(ctx: ConnectorContext): string {
  return typeof ctx.config.api_url === "string" ? ctx.config.api_url : BREVO_API_URL;
}

type Group = "subscribed" | "non_subscribed" | "blocked";
const RANK: Record<Group, number> = { subscribed: 0, non_subscribed: 1, blocked: 2 };

interface Target {
  email: string;
  group: Group;
  ids: string[];
  row: ImportRow;
}

function groupOf(c: SyncContact): Group {
  const consent = consentOf(c);
  if (consent === "subscribed" || consent === "non_subscribed") return consent;
  return "blocked";
}

function attributesOf(c: SyncContact): Record<string, string> | undefined {
  const a: Record<string, string> = {};
  if (c.first_name) a.FIRSTNAME = c.first_name;
  if (c.last_name) a.LASTNAME = c.last_name;
  return Object.keys(a).length > 0 ? a : undefined;
}

/** Contacts by lower-cased email; an address held by several contacts takes the lowest consent. */
function targetsOf(contacts: SyncContact[]): { targets: Map<string, Target>; skipped: RowOutcome[] } {
  const targets = new Map<string, Target>();
  const skipped: RowOutcome[] = [];
  for (const c of contacts) {
    const email = c.email?.trim().toLowerCase() ?? "";
    if (email === "") {
      skipped.push({ contact_id: c.id, status: "skipped", error: "no email" });
      continue;
    }
    const group = groupOf(c);
    const t = targets.get(email);
    if (!t) {
      const attributes = attributesOf(c);
      targets.set(email, { email, group, ids: [c.id], row: attributes ? { email, attributes } : { email } });
    } else {
      t.ids.push(c.id);
      if (RANK[group] > RANK[t.group]) t.group = group;
    }
  }
  return { targets, skipped };
}

function importSpecs(listId: number, blocked: Target[], newSub: Target[], newNonSub: Target[]): ImportSpec[] {
  const specs: ImportSpec[] = [];
  const rows = (ts: Target[]) => ts.map((t) => t.row);
  if (blocked.length > 0) {
    specs.push({ listId, rows: rows(blocked), emailBlacklist: true, updateExistingContacts: true });
  }
  if (newSub.length > 0) {
    specs.push({ listId, rows: rows(newSub), emailBlacklist: false, updateExistingContacts: false });
  }
  if (newNonSub.length > 0) {
    specs.push({ listId, rows: rows(newNonSub), emailBlacklist: true, updateExistingContacts: false });
  }
  return specs;
}

function isAlreadyAnswer(e: BrevoError): boolean {
  const b = brevoErrorBody(e);
  return e.statusCode === 400 && b !== null && /already (in|removed from) list/i.test(b.message);
}

function rejectedBatch(e: BrevoError, what: string): BatchRejected {
  const b = brevoErrorBody(e);
  return new BatchRejected(`${what}: ${b ? `${b.code}: ${b.message}` : "HTTP 400"}`, 400);
}

/** Adds existing contacts to the list; answers the addresses Brevo added. */
async function addToList(ctx: ConnectorContext, emails: string[]): Promise<Set<string>> {
  const listId = listIdOf(ctx);
  const what = `POST /contacts/lists/${listId}/contacts/add`;
  try {
    const res = await brevoCall(
      ctx,
      what,
      (c) => c.contacts.addContactToList({ listId, body: { emails } }),
      (e) => e.statusCode === 400,
    );
    return new Set((res.contacts?.success ?? []).map((s) => String(s).toLowerCase()));
  } catch (e) {
    // "Contact already in list and/or does not exist": Brevo's answer when it added none.
    if (isBrevoError(e) && isAlreadyAnswer(e)) return new Set();
    if (isBrevoError(e)) throw rejectedBatch(e, what);
    throw e;
  }
}

async function runImports(
  ctx: ConnectorContext,
  specs: ImportSpec[],
  wait: ImportWait,
): Promise<Map<string, string | null>> {
  const settled = await Promise.allSettled(specs.map((s) => runImport(ctx, s, wait)));
  const failure = settled.find((s) => s.status === "rejected");
  if (failure) throw failure.reason;
  // Per address: null when it landed, else why not.
  const out = new Map<string, string | null>();
  settled.forEach((s, i) => {
    const outcome = (s as PromiseFulfilledResult<ImportOutcome>).value;
    for (const r of specs[i].rows) {
      if (outcome.status !== "completed") out.set(r.email, `Brevo import process ${outcome.status}`);
      else if (outcome.invalid.has(r.email))
        out.set(r.email, "invalid email address (refused by the Brevo import)");
      else out.set(r.email, null);
    }
  });
  return out;
}

function redactedHeaders(): Record<string, string> {
  return { "api-key": "<redacted>", "content-type": "application/json" };
}

export function createBrevoConnector(opts: BrevoConnectorOptions = {}): Connector {
  const wait: ImportWait = { ...DEFAULT_IMPORT_WAIT, ...opts.importWait };
  return {
    kind: BREVO_KIND,
    // 150: the list add/remove maximum. 2 in flight: `/contacts` allows 10 requests a
    // second on the general tier and an add makes up to 4 of them (429s are waited out).
    limits: { batchSize: BREVO_MAX_EMAILS, concurrency: 2 },
    parseConfig: parseBrevoConfig,

    async add(ctx, contacts): Promise<BatchResult> {
      const { targets, skipped } = targetsOf(contacts);
      const all = [...targets.values()];
      const direct = all.filter((t) => t.group !== "blocked");
      const added =
        direct.length > 0
          ? await addToList(
              ctx,
              direct.map((t) => t.email),
            )
          : new Set<string>();
      const notAdded = direct.filter((t) => !added.has(t.email));
      const specs = importSpecs(
        listIdOf(ctx),
        all.filter((t) => t.group === "blocked"),
        notAdded.filter((t) => t.group === "subscribed"),
        notAdded.filter((t) => t.group === "non_subscribed"),
      );
      const imported =
        specs.length > 0 ? await runImports(ctx, specs, wait) : new Map<string, string | null>();
      const rows: RowOutcome[] = [...skipped];
      for (const t of all) {
        const error = added.has(t.email) ? null : (imported.get(t.email) ?? null);
        for (const id of t.ids) {
          rows.push(
            error === null
              ? { contact_id: id, status: "ok", remote_key: t.email }
              : { contact_id: id, status: "failed", error },
          );
        }
      }
      return { rows };
    },

    async remove(ctx, members): Promise<BatchResult> {
      const emails = [...new Set(members.map((m) => m.remote_key.toLowerCase()))];
      const listId = listIdOf(ctx);
      const what = `POST /contacts/lists/${listId}/contacts/remove`;
      if (emails.length > 0) {
        try {
          await brevoCall(
            ctx,
            what,
            (c) => c.contacts.removeContactFromList({ listId, body: { emails } }),
            (e) => e.statusCode === 400,
          );
        } catch (e) {
          // Addresses Brevo did not remove were not in the list (or not in Brevo): the
          // aim is met either way, and its all-absent answer is a 400.
          if (!isBrevoError(e)) throw e;
          if (!isAlreadyAnswer(e)) throw rejectedBatch(e, what);
        }
      }
      return { rows: members.map((m) => ({ contact_id: m.contact_id, status: "ok" })) };
    },

    planAdd(ctx, contacts): PlannedRequest[] {
      const { targets } = targetsOf(contacts);
      const all = [...targets.values()];
      const direct = all.filter((t) => t.group !== "blocked");
      const listId = listIdOf(ctx);
      const out: PlannedRequest[] = [];
      if (direct.length > 0) {
        out.push({
          method: "POST",
          url: `${apiOf(ctx)}/contacts/lists/${listId}/contacts/add`,
          headers: redactedHeaders(),
          body: { emails: direct.map((t) => t.email) },
          rows: direct.length,
        });
      }
      // The imports for subscribed / non-subscribed addresses carry only those the list
      // add does not take, which a dry run cannot know: shown with all of them.
      const specs = importSpecs(
        listId,
        all.filter((t) => t.group === "blocked"),
        direct.filter((t) => t.group === "subscribed"),
        direct.filter((t) => t.group === "non_subscribed"),
      );
      for (const s of specs) {
        out.push({
          method: "POST",
          url: `${apiOf(ctx)}/contacts/import`,
          headers: redactedHeaders(),
          body: importBody(s),
          rows: s.rows.length,
        });
      }
      return out;
    },

    planRemove(ctx, members: RemoteMember[]): PlannedRequest[] {
      const emails = [...new Set(members.map((m) => m.remote_key.toLowerCase()))];
      if (emails.length === 0) return [];
      return [
        {
          method: "POST",
          url: `${apiOf(ctx)}/contacts/lists/${listIdOf(ctx)}/contacts/remove`,
          headers: redactedHeaders(),
          body: { emails },
          rows: emails.length,
        },
      ];
    },

    async remoteSize(ctx): Promise<number | null> {
      const listId = listIdOf(ctx);
      const list = await brevoCall(ctx, `GET /contacts/lists/${listId}`, (c) =>
        c.contacts.getList({ listId }),
      );
      return typeof list.totalSubscribers === "number" ? list.totalSubscribers : null;
    },
  };
}
