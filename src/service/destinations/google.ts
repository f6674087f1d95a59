/**
 * Google Customer Match through Google's Data Manager API (the Google Ads API takes no
 * new Customer Match adopters from April 2026): contacts go into a Customer Match user
 * list of a Google Ads account as SHA-256 hashed identifiers, normalised and hashed as
 * the Google export does (export-google.ts).
 *
 * What is sent for each consent value (`consentOf`; an ad platform, so consent decides
 * who is sent at all, never a subscription status):
 *
 * | consent          | add                                                            |
 * | ---------------- | -------------------------------------------------------------- |
 * | `subscribed`     | sent: the member's hashed identifiers                          |
 * | `non_subscribed` | sent: the member's hashed identifiers                          |
 * | `unsubscribed`   | skipped, "suppressed: unsubscribed" (sent when `include_suppressed: true`) |
 * | `hard_bounced`   | skipped, "suppressed: hard_bounced" (sent when `include_suppressed: true`) |
 * | `complained`     | skipped, "suppressed: complained" (sent when `include_suppressed: true`)   |
 *
 * Removal is sent whatever the consent. Google's DMA consent (`adUserData`,
 * `adPersonalization`) is not Slice's email consent and Slice records no ad consent,
 * so by default none is sent and Google applies the account's own consent settings;
 * `consent_ad_user_data` / `consent_ad_personalization` ("granted" or "denied") send
 * it for every member of the request. Every ingest states the Customer Match terms of
 * service as ACCEPTED (Google refuses user data without it): configuring a Google
 * destination is accepting them.
 *
 * Identifiers per member (at most 10 allowed, at most 3 sent): the email, the phone
 * (E.164), and the address (first name, last name, country, postal code: sent only
 * when all four are known, as Google requires). A contact with none is skipped.
 * `remote_key` is the JSON of the identifiers sent, which is what removal needs.
 */
import type { protos } from "@google-ads/datamanager";
import { GOOGLE_FIELDS, GOOGLE_SOURCES, type GoogleField, googleHash } from "../export-google.ts";
import type { NormalizeContext } from "../export-meta.ts";
import { consentOf } from "./consent.ts";
import {
  GoogleApi,
  GoogleApiError,
  type GoogleApiOptions,
  type IngestRequest,
  type RemoveRequest,
} from "./google-api.ts";
import { authOf, type GoogleConfig, parseGoogleConfig, readConfig } from "./google-config.ts";
import { ProviderError } from "./http-call.ts";
import {
  BatchRejected,
  type Connector,
  type PlannedRequest,
  type RemoteMember,
  type RowOutcome,
  type SyncContact,
} from "./types.ts";

export const GOOGLE_KIND = "google" as const;

/** Documented maximum of `audienceMembers` per ingest or remove request. */
export const GOOGLE_MAX_MEMBERS = 10_000;

/**
 * Google recommends up to 10 concurrent IngestionService requests; the project quota
 * (300 requests a minute) is shared by every destination of the project, so fewer.
 */
const CONCURRENCY = 3;

/**
 * Google answers a request with a bad member by failing it whole and naming the
 * members (fast-fail); those fail alone and the rest is sent again, this many times
 * before the batch is handed back to the syncer to split.
 */
const MAX_ROUNDS = 5;

type UserIdentifier = protos.google.ads.datamanager.v1.IUserIdentifier;
type Destination = protos.google.ads.datamanager.v1.IDestination;

const SUPPRESSED = new Set(["unsubscribed", "hard_bounced", "complained"]);

export interface GoogleConnectorOptions extends GoogleApiOptions {}

export function createGoogleConnector(opts: GoogleConnectorOptions = {}): Connector {
  const api = new GoogleApi(opts);

  async function sendRounds(
    items: { id: string; identifiers: UserIdentifier[] }[],
    send: (members: UserIdentifier[][]) => Promise<unknown>,
  ): Promise<RowOutcome[]> {
    const out: RowOutcome[] = [];
    let pending = items;
    for (let round = 1; pending.length > 0; round++) {
      try {
        await send(pending.map((p) => p.identifiers));
        for (const p of pending) out.push({ contact_id: p.id, status: "ok" });
        return out;
      } catch (e) {
        if (!(e instanceof GoogleApiError)) throw e;
        const named = namedRows(e, pending.length);
        if (named === "request") {
          // The destination, the terms or the encoding: no split of the batch can help.
          throw new ProviderError(
            `Data Manager refused the request: ${e.message}${describe(e)}`,
            e.httpStatus,
            false,
            e.body,
          );
        }
        if (named.size === 0 || round >= MAX_ROUNDS) {
          throw new BatchRejected(
            `Data Manager refused the request: ${e.message}${describe(e)}`,
            e.httpStatus,
          );
        }
        const next: typeof pending = [];
        pending.forEach((p, i) => {
          const why = named.get(i);
          if (why === undefined) next.push(p);
          else out.push({ contact_id: p.id, status: "failed", error: why });
        });
        pending = next;
      }
    }
    return out;
  }

  return {
    kind: GOOGLE_KIND,
    limits: { batchSize: GOOGLE_MAX_MEMBERS, concurrency: CONCURRENCY },

    parseConfig: parseGoogleConfig,

    async add(ctx, contacts) {
      const c = readConfig(ctx);
      const { rows, send } = prepareAdd(c, contacts);
      const keys = new Map(send.map((s) => [s.id, JSON.stringify(s.identifiers)]));
      if (send.length > 0) {
        const sent = await sendRounds(send, (members) =>
          api.ingest(ctx.http, authOf(ctx), c.apiUrl, ingestBody(c, members)),
        );
        for (const r of sent) rows.push(r.status === "ok" ? { ...r, remote_key: keys.get(r.contact_id) } : r);
      }
      return { rows };
    },

    async remove(ctx, members) {
      const c = readConfig(ctx);
      const { rows, send } = prepareRemove(members);
      if (send.length > 0) {
        rows.push(
          ...(await sendRounds(send, (m) => api.remove(ctx.http, authOf(ctx), c.apiUrl, removeBody(c, m)))),
        );
      }
      return { rows };
    },

    planAdd(ctx, contacts) {
      const c = readConfig(ctx);
      const { send } = prepareAdd(c, contacts);
      if (send.length === 0) return [];
      return [
        plan(
          c,
          "ingest",
          ingestBody(
            c,
            send.map((s) => s.identifiers),
          ),
          send.length,
        ),
      ];
    },

    planRemove(ctx, members) {
      const c = readConfig(ctx);
      const { send } = prepareRemove(members);
      if (send.length === 0) return [];
      return [
        plan(
          c,
          "remove",
          removeBody(
            c,
            send.map((s) => s.identifiers),
          ),
          send.length,
        ),
      ];
    },
  };
}

/**
 * The members an INVALID_ARGUMENT answer names (`audience_members.audience_members[3]…`),
 * by index, with Google's reason; "request" when a violation is about the request
 * itself (no member named); empty when the answer names nothing.
 */
function namedRows(e: GoogleApiError, count: number): Map<number, string> | "request" {
  const out = new Map<number, string>();
  for (const v of e.violations) {
    const m = /(?:audience_members|audienceMembers)\[(\d+)\]/.exec(v.field);
    if (!m) {
      if (v.field === "" || /^(?:audience_members|audienceMembers)$/.test(v.field)) return new Map();
      return "request";
    }
    const i = Number(m[1]);
    if (i >= count) return new Map();
    const why = [v.reason || e.status, v.description].filter((x) => x).join(": ");
    out.set(i, out.has(i) ? `${out.get(i)}; ${why}` : why);
  }
  return out;
}

function describe(e: GoogleApiError): string {
  if (e.violations.length === 0) return "";
  return ` (${e.violations
    .slice(0, 5)
    .map((v) => [v.field, v.reason, v.description].filter((x) => x).join(" "))
    .join("; ")})`;
}

function destination(c: GoogleConfig): Destination {
  return {
    operatingAccount: { accountType: "GOOGLE_ADS", accountId: c.accountId },
    ...(c.loginAccountId ? { loginAccount: { accountType: "GOOGLE_ADS", accountId: c.loginAccountId } } : {}),
    productDestinationId: c.userListId,
  };
}

function ingestBody(c: GoogleConfig, members: UserIdentifier[][]): IngestRequest {
  const consent: protos.google.ads.datamanager.v1.IConsent = {
    ...(c.adUserData ? { adUserData: c.adUserData } : {}),
    ...(c.adPersonalization ? { adPersonalization: c.adPersonalization } : {}),
  };
  return {
    destinations: [destination(c)],
    audienceMembers: members.map((userIdentifiers) => ({ userData: { userIdentifiers } })),
    ...(Object.keys(consent).length > 0 ? { consent } : {}),
    encoding: "HEX",
    termsOfService: { customerMatchTermsOfServiceStatus: "ACCEPTED" },
  };
}

function removeBody(c: GoogleConfig, members: UserIdentifier[][]): RemoveRequest {
  return {
    destinations: [destination(c)],
    audienceMembers: members.map((userIdentifiers) => ({ userData: { userIdentifiers } })),
    encoding: "HEX",
  };
}

function plan(c: GoogleConfig, verb: "ingest" | "remove", body: unknown, rows: number): PlannedRequest {
  return {
    method: "POST",
    url: `${c.apiUrl.replace(/\/+$/, "")}/v1/audienceMembers:${verb}`,
    headers: { Authorization: "<redacted>", "Content-Type": "application/json" },
    body,
    rows,
  };
}

/** The hashed identifiers Google matches a contact by, in a stable order. */
export function googleIdentifiers(contact: SyncContact): UserIdentifier[] {
  const nctx: NormalizeContext = { country: contact.country };
  const h = {} as Record<GoogleField, string>;
  for (const f of GOOGLE_FIELDS) h[f] = googleHash(f, contact[GOOGLE_SOURCES[f]], nctx);
  const out: UserIdentifier[] = [];
  if (h.email) out.push({ emailAddress: h.email });
  if (h.phone) out.push({ phoneNumber: h.phone });
  if (h.first_name && h.last_name && h.country && h.zip) {
    out.push({
      address: { givenName: h.first_name, familyName: h.last_name, regionCode: h.country, postalCode: h.zip },
    });
  }
  return out;
}

function prepareAdd(
  c: GoogleConfig,
  contacts: SyncContact[],
): { rows: RowOutcome[]; send: { id: string; identifiers: UserIdentifier[] }[] } {
  const rows: RowOutcome[] = [];
  const send: { id: string; identifiers: UserIdentifier[] }[] = [];
  for (const contact of contacts) {
    const consent = consentOf(contact);
    if (SUPPRESSED.has(consent) && !c.includeSuppressed) {
      rows.push({ contact_id: contact.id, status: "skipped", error: `suppressed: ${consent}` });
      continue;
    }
    const identifiers = googleIdentifiers(contact);
    if (identifiers.length === 0) {
      rows.push({
        contact_id: contact.id,
        status: "skipped",
        error:
          "no identifier Google matches: email, phone, or first name, last name, country and postal code",
      });
      continue;
    }
    send.push({ id: contact.id, identifiers });
  }
  return { rows, send };
}

function prepareRemove(members: RemoteMember[]): {
  rows: RowOutcome[];
  send: { id: string; identifiers: UserIdentifier[] }[];
} {
  const rows: RowOutcome[] = [];
  const send: { id: string; identifiers: UserIdentifier[] }[] = [];
  for (const m of members) {
    const identifiers = parseRemoteKey(m.remote_key);
    if (identifiers === null)
      rows.push({ contact_id: m.contact_id, status: "failed", error: "unreadable remote_key" });
    else send.push({ id: m.contact_id, identifiers });
  }
  return { rows, send };
}

function parseRemoteKey(key: string): UserIdentifier[] | null {
  let v: unknown;
  try {
    v = JSON.parse(key);
  } catch {
    return null;
  }
  if (!Array.isArray(v) || v.length === 0) return null;
  return v.every((x) => typeof x === "object" && x !== null && !Array.isArray(x))
    ? (v as UserIdentifier[])
    : null;
}
