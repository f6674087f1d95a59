/**
 * The use cases of one workspace (SPEC §4), tying its store and its engine: every write
 * is validated, committed, then applied to the engine (LiveWorkspace.write); every read
 * of membership comes from the engine at the read instant.
 */
import { randomBytes } from "node:crypto";
import type { ContactInput as EngineContact, ExplainNode, MembershipChange } from "../engine/index.ts";
import type { Clock } from "../engine/types.ts";
import { type ComputedDefinition, computedText, validateComputed } from "../rules/computed.ts";
import { DEFAULT_SEGMENT_IDS, defaultSegments } from "../rules/defaults.ts";
import { RuleValidationError } from "../rules/errors.ts";
import { FieldRegistry } from "../rules/fields.ts";
import { clampedInstant } from "../store/contact-row.ts";
import { newId } from "../store/ids.ts";
import {
  type ChangeRecord,
  type ContactRecord,
  type ContactWrite,
  type CustomField,
  type EventWrite,
  type JsonObject,
  type JsonValue,
  type Page,
  type SegmentRecord,
  type SegmentVersion,
  type Store,
  StoreError,
  type StoreOps,
  type Workspace,
} from "../store/types.ts";
import {
  computedReader,
  definitionError,
  type FieldDeclaration,
  fieldInUse,
  refuseComputedWrites,
  type WireField,
} from "./computed-fields.ts";
import { mergeContacts } from "./contact-merge.ts";
import { emailProblem } from "./email.ts";
import { ApiError, invalid, notFound } from "./errors.ts";
import { contactTag, type IfMatch, requireMatch, segmentTag } from "./etag.ts";
import { type ContactMatch, engineContact, LiveWorkspace, UnknownContactError } from "./live-workspace.ts";
import { LogPositions, type WorkspacePositions } from "./log-position.ts";
import { normalisePhone } from "./phone.ts";
import { ruleOfInput, ruleTextOf } from "./rule-input.ts";
import {
  ActionInput,
  type ContactChanges,
  ContactInput,
  type ContactRef,
  checkProperties,
  contactChanges,
  EventInput,
  FieldInput,
  instant,
  issuePath,
  LIMITS,
  MembersInput,
  PreviewInput,
  parse,
  plainEvent,
  RefsInput,
  SegmentInput,
  SegmentReplace,
} from "./wire.ts";
import { type ComputedValues, toWireContact, type WireContact } from "./wire-contact.ts";

export interface BatchResult {
  accepted: number;
  duplicates: number;
  errors: { index: number; error: string }[];
}

export interface WireSegment {
  id: string;
  name: string;
  description: string;
  kind: "dynamic" | "static";
  rule: JsonValue | null;
  /** The rule's text form (SPEC §3.1); null for a static segment. */
  rule_text: string | null;
  default: boolean;
  version: number;
  size: number;
  created_at: string | null;
  updated_at: string | null;
}

export interface WorkspaceHooks {
  onLog?: (ws: string, tx: StoreOps, logged: ChangeRecord[]) => Promise<void>;
  afterLog?: (ws: string, logged: ChangeRecord[]) => void;
  /** What else refers to a segment (webhooks), for `uses` and the delete guard. */
  segmentUsers?: (ws: string, segmentId: string) => Promise<{ type: string; id: string }[]>;
}

const DEFAULT_NAMES = new Map(defaultSegments().map((s) => [s.id, s.name]));
/** Up to this many contacts matching a search are paged by their ids, without a store scan. */
const SEARCH_SORTED_MAX = 10_000;
const DEFAULT_DESCRIPTIONS: Record<string, string> = {
  all: "Every contact.",
  customers: "At least one order_placed or offer_granted, ever.",
  subscribed: "status = subscribed.",
  inactive: "Subscribed more than 90 days ago and no email_opened in the last 90 days.",
  hard_bounced: "email_status = hard_bounced.",
  excluded:
    "Inactive and high-risk (soft bouncing, or never opened nor clicked though sent at least 5 emails).",
};

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

function storeError(e: unknown, path: string): never {
  if (e instanceof StoreError && e.code === "conflict") {
    throw new ApiError("conflict", `${e.field ? `${path}${e.field}` : path}: ${e.message}`, {
      ...(e.field ? { field: e.field } : {}),
    });
  }
  throw e;
}

function ruleError(e: unknown, root: string): never {
  if (e instanceof RuleValidationError) {
    const first = e.issues[0]!;
    const path = first.path.startsWith("rule") || root === "" ? first.path : `${root}.${first.path}`;
    throw new ApiError("invalid_request", `${path}: ${first.message}`, {
      path,
      issues: e.issues.map((i) => ({ path: i.path, message: i.message })),
      issue_count: e.issueCount,
    });
  }
  throw e;
}

/**
 * Records a contacts write answered: the store keeps a contact's first created_at, which
 * may be one stored out of range before writes were checked; it is answered repaired
 * as every read answers it (contact-row.ts), not as a 500 after the commit.
 */
function keptInRange(recs: ContactRecord[]): ContactRecord[] {
  for (const r of recs) r.created_at = clampedInstant(r.created_at);
  return recs;
}

/** The engine's contact input for a record's changed keys (a patch). */
function enginePatch(id: string, ch: ContactChanges): EngineContact {
  const out: EngineContact = { id };
  for (const [k, v] of Object.entries(ch)) (out as unknown as Record<string, unknown>)[k] = v;
  return out;
}

export class WorkspaceService {
  private constructor(
    readonly info: Workspace,
    readonly live: LiveWorkspace,
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly hooks: WorkspaceHooks,
    /** Log positions (cursors) as the client sees them: opaque tokens. */
    readonly positions: WorkspacePositions,
  ) {}

  static async open(
    store: Store,
    info: Workspace,
    opts: {
      /** Default: a key of this process only, for a service opened on its own (tests, tools). */
      positions?: WorkspacePositions;
      clock?: Clock;
      hooks?: WorkspaceHooks;
      onProgress?: (phase: string, rows: number) => void;
    } = {},
  ): Promise<WorkspaceService> {
    const clock = opts.clock ?? { now: () => Date.now() };
    const hooks = opts.hooks ?? {};
    const live = await LiveWorkspace.open(store, info.id, {
      clock,
      timeZone: info.time_zone,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      onLog: (tx, logged) => hooks.onLog?.(info.id, tx, logged) ?? Promise.resolve(),
      afterLog: (logged) => hooks.afterLog?.(info.id, logged),
    });
    const positions = opts.positions ?? new LogPositions(randomBytes(32)).of(info.id);
    return new WorkspaceService(info, live, store, clock, hooks, positions);
  }

  get id(): string {
    return this.info.id;
  }

  get engine() {
    return this.live.engine;
  }

  get registry(): FieldRegistry {
    return this.engine.fields;
  }

  get timeZone(): string {
    return this.info.time_zone;
  }

  // ---------------------------------------------------------------- contacts

  /** The wire form with the effective status / email_status (profile effects applied). */
  /**
   * With computed fields, `computed` holds their values now (`values` reads them; pass one
   * reader for a page of contacts, null to leave them out, as ETags do).
   */
  wireContact(
    r: ContactRecord,
    withSegments = false,
    values: ((id: string) => ComputedValues) | null = computedReader(this.engine),
  ): WireContact & { segments?: string[] } {
    const e = this.engine;
    const i = e.contacts.index(r.id);
    const effective: ContactRecord = { ...r };
    if (i !== undefined) {
      const st = e.contacts.valueOf(i, "status");
      const es = e.contacts.valueOf(i, "email_status");
      effective.status = typeof st === "string" ? st : null;
      effective.email_status = typeof es === "string" ? es : null;
    }
    const wire: WireContact & { segments?: string[] } = toWireContact(effective);
    if (values) wire.computed = values(r.id);
    if (withSegments) wire.segments = this.engine.segmentsOf(r.id);
    return wire;
  }

  /** `wireContact` for a page of contacts: the computed values read at one instant. */
  private wireMany(): (r: ContactRecord) => WireContact {
    const values = computedReader(this.engine);
    return (r) => this.wireContact(r, false, values);
  }

  async getContact(id: string): Promise<WireContact> {
    const r = await this.store.getContact(this.id, id);
    if (!r) throw notFound("contact", id);
    return this.wireContact(r, true);
  }

  /**
   * A page of contacts in id order, of one segment and/or matching a search text
   * (`ContactTable.search`), with `total`, the number of contacts matching the whole
   * filter; or the one contact an email or external_id names (no `total`).
   */
  async listContacts(req: {
    segment?: string;
    q?: string;
    cursor?: string;
    limit: number;
    email?: string;
    external_id?: string;
  }): Promise<Page<WireContact> & { total?: number }> {
    if (req.email !== undefined || req.external_id !== undefined) {
      if (req.segment !== undefined) this.requireSegment(req.segment);
      return this.lookup(req, req.segment);
    }
    if (req.segment !== undefined) this.requireSegment(req.segment);
    const members = req.segment !== undefined ? this.engine.members(req.segment) : null;
    const q = req.q?.trim() ?? "";
    const cursor = req.cursor ? { cursor: req.cursor } : {};
    if (q === "") {
      const page = await this.store.listContacts(this.id, {
        limit: req.limit,
        ...cursor,
        ...(members ? { segmentMembers: members } : {}),
      });
      const total = members ? members.count : this.engine.contacts.count;
      return { data: page.data.map(this.wireMany()), next_cursor: page.next_cursor, total };
    }
    const table = this.engine.contacts;
    let found = table.search(q);
    if (members) found = found.filter((i) => members.has(table.ids[i]));
    const total = found.length;
    if (total > SEARCH_SORTED_MAX) {
      // Many matches: the store's scan in its own order finds a page of them soon.
      const hit = new Set(found.map((i) => table.ids[i]));
      const page = await this.store.listContacts(this.id, {
        limit: req.limit,
        ...cursor,
        segmentMembers: hit,
      });
      return { data: page.data.map(this.wireMany()), next_cursor: page.next_cursor, total };
    }
    // Few matches: page their ids here rather than scan the whole table for them. Ids
    // are generated ASCII, so JavaScript's order is the store's (binary, COLLATE "C").
    const after = req.cursor ?? "";
    const ids = found
      .map((i) => table.ids[i])
      .filter((id) => id > after)
      .sort();
    const pageIds = ids.slice(0, req.limit);
    const recs = await this.store.getContacts(this.id, pageIds);
    return {
      data: recs.filter((r): r is ContactRecord => r !== null).map(this.wireMany()),
      next_cursor: ids.length > req.limit ? pageIds[pageIds.length - 1] : null,
      total,
    };
  }

  /**
   * The contact every given key names (email case-insensitively, as `findContacts`),
   * as a page of 0 or 1; with `segment`, only if it is a member now.
   */
  private async lookup(
    keys: { id?: string; email?: string; external_id?: string },
    segment?: string,
  ): Promise<Page<WireContact>> {
    const refs: ContactRef[] = [];
    if (keys.id !== undefined) refs.push({ id: keys.id });
    if (keys.email !== undefined) refs.push({ email: keys.email });
    if (keys.external_id !== undefined) refs.push({ external_id: keys.external_id });
    const found = await this.store.findContacts(this.id, refs);
    const first = found[0];
    const one = first && found.every((r) => r?.id === first.id) ? first : null;
    const inSegment = one && (segment === undefined || this.engine.members(segment).has(one.id));
    return { data: one && inSegment ? [this.wireContact(one)] : [], next_cursor: null };
  }

  /** Finds the stored contact a write is about (by id, email or external_id). */
  private async existingFor(
    db: StoreOps,
    ch: ContactChanges,
    id: string | undefined,
    path: string,
  ): Promise<ContactRecord | null> {
    if (id !== undefined) {
      const r = await db.getContact(this.id, id);
      if (!r) throw new ApiError("not_found", `${issuePath(path, ["id"])}: contact "${id}" not found`);
      return r;
    }
    const refs: ContactRef[] = [];
    if (ch.email) refs.push({ email: ch.email });
    if (ch.external_id) refs.push({ external_id: ch.external_id });
    if (refs.length === 0) throw invalid(path, "expected an email or an external_id to upsert by");
    const found = await db.findContacts(this.id, refs);
    const distinct = [...new Map(found.filter((r) => r !== null).map((r) => [r!.id, r!])).values()];
    if (distinct.length > 1) {
      throw new ApiError(
        "conflict",
        `${path || "contact"}: email and external_id belong to two different contacts (${distinct.map((r) => r.id).join(", ")})`,
      );
    }
    return distinct[0] ?? null;
  }

  /** The stored record after a write of `ch` over `prev` (null: a new contact). */
  private merged(prev: ContactRecord | null, ch: ContactChanges, now: number): ContactWrite {
    const base: ContactWrite = prev
      ? { ...prev }
      : {
          status: "non_subscribed",
          email_status: "deliverable",
          status_written_at: null,
          email_status_written_at: null,
          tags: [],
          fields: {},
          created_at: now,
          subscribed_at: null,
        };
    const out: ContactWrite = { ...base };
    for (const [k, v] of Object.entries(ch)) {
      if (k === "fields" || k === "created_at") continue;
      (out as Record<string, unknown>)[k] = v;
    }
    if (ch.fields) out.fields = { ...(base.fields ?? {}), ...ch.fields };
    // A phone written without a country is read with the stored one (SPEC §1: E.164 where possible).
    if (ch.phone && ch.country === undefined && out.country)
      out.phone = normalisePhone(ch.phone, out.country);
    // SPEC §1: created_at can be given only when the contact is created; later it is kept.
    if (!prev && ch.created_at != null) out.created_at = ch.created_at;
    if (ch.status !== undefined) out.status_written_at = now;
    if (ch.email_status !== undefined) out.email_status_written_at = now;
    const wasSubscribed = prev ? this.effectiveStatus(prev.id) === "subscribed" : false;
    if (ch.status === "subscribed" && !wasSubscribed && ch.subscribed_at === undefined)
      out.subscribed_at = now;
    return out;
  }

  private effectiveStatus(id: string): string | null {
    const i = this.engine.contacts.index(id);
    if (i === undefined) return null;
    const v = this.engine.contacts.valueOf(i, "status");
    return typeof v === "string" ? v : null;
  }

  /** Applies a stored write to the engine: a new contact whole, an existing one as a patch. */
  private applyContact(rec: ContactRecord, ch: ContactChanges | null, created: boolean, now: number): void {
    if (created || ch === null) {
      const defaults: ("status" | "email_status")[] = [];
      if (rec.status_written_at === null) defaults.push("status");
      if (rec.email_status_written_at === null) defaults.push("email_status");
      this.engine.upsertContact(engineContact(rec), { receivedAt: now, defaults });
    } else {
      const patch = enginePatch(rec.id, ch);
      if (ch.fields) patch.fields = rec.fields;
      if (ch.phone !== undefined) patch.phone = rec.phone;
      if (rec.subscribed_at !== undefined) patch.subscribed_at = rec.subscribed_at;
      delete patch.created_at;
      this.engine.patchContact(patch, { receivedAt: now });
    }
  }

  async upsertContact(
    body: unknown,
    opts: { id?: string } = {},
  ): Promise<{ contact: WireContact; created: boolean }> {
    const input = parse(ContactInput, body);
    refuseComputedWrites(input.fields, this.engine.computedFields());
    const ch = contactChanges(input, this.registry, this.timeZone);
    return this.live
      .write(
        async (tx) => {
          const now = this.clock.now();
          const prev = await this.existingFor(tx, ch, opts.id ?? input.id, "");
          const write = this.merged(prev, ch, now);
          const [rec] = await tx
            .putContacts(this.id, [write])
            .then(keptInRange)
            .catch((e) => storeError(e, ""));
          return { rec: rec!, created: prev === null, now };
        },
        ({ rec, created, now }) => this.applyContact(rec, ch, created, now),
      )
      .then(({ result }) => ({ contact: this.wireContact(result.rec, true), created: result.created }));
  }

  /** With `ifMatch`, a stale tag answers 412, checked inside the commit (etag.ts). */
  async patchContact(id: string, body: unknown, ifMatch?: IfMatch | null): Promise<WireContact> {
    const input = parse(ContactInput, body);
    if (input.id !== undefined && input.id !== id) throw invalid("id", "cannot change a contact's id");
    refuseComputedWrites(input.fields, this.engine.computedFields());
    const ch = contactChanges(input, this.registry, this.timeZone);
    const { result } = await this.live.write(
      async (tx) => {
        const now = this.clock.now();
        const prev = await tx.getContact(this.id, id);
        if (!prev) throw notFound("contact", id);
        if (ifMatch) requireMatch(ifMatch, contactTag(this.wireContact(prev, false, null)));
        const [rec] = await tx
          .putContacts(this.id, [this.merged(prev, ch, now)])
          .then(keptInRange)
          .catch((e) => storeError(e, ""));
        return { rec: rec!, now };
      },
      ({ rec, now }) => this.applyContact(rec, ch, false, now),
    );
    return this.wireContact(result.rec, true);
  }

  async upsertContacts(body: unknown): Promise<BatchResult> {
    return (await this.upsertContactsWithIds(body)).result;
  }

  /** A contacts batch; also the ids of the contacts written (imports add them to a segment). */
  async upsertContactsWithIds(body: unknown): Promise<{ result: BatchResult; ids: string[] }> {
    const items = Array.isArray(body) ? body : (body as { contacts?: unknown })?.contacts;
    if (!Array.isArray(items)) throw invalid("contacts", "expected an array of contacts");
    if (items.length > LIMITS.batchItems) {
      throw new ApiError("payload_too_large", `contacts: at most ${LIMITS.batchItems} items per batch`);
    }
    const errors: { index: number; error: string }[] = [];
    const valid: { index: number; id?: string; ch: ContactChanges }[] = [];
    items.forEach((item, index) => {
      try {
        const input = parse(ContactInput, item, `contacts[${index}]`);
        refuseComputedWrites(input.fields, this.engine.computedFields(), `contacts[${index}]`);
        const ch = contactChanges(input, this.registry, this.timeZone, `contacts[${index}]`);
        if (input.id === undefined && !ch.email && !ch.external_id) {
          throw invalid(`contacts[${index}]`, "expected an email or an external_id to upsert by");
        }
        valid.push({ index, ...(input.id !== undefined ? { id: input.id } : {}), ch });
      } catch (e) {
        if (e instanceof ApiError) errors.push({ index, error: e.message });
        else throw e;
      }
    });
    const { result } = await this.live.write(
      async (tx) => {
        const now = this.clock.now();
        const writes: { index: number; rec: ContactWrite; ch: ContactChanges; created: boolean }[] = [];
        // Later items about the same contact (same id, email or external_id) merge into the earlier one.
        const byKey = new Map<string, number>();
        let merged = 0;
        for (const v of valid) {
          const keys = [
            v.id && `id:${v.id}`,
            v.ch.email && `e:${v.ch.email}`,
            v.ch.external_id && `x:${v.ch.external_id}`,
          ];
          const seen = keys.map((k) => (k ? byKey.get(k) : undefined)).find((k) => k !== undefined);
          if (seen !== undefined) {
            const w = writes[seen]!;
            const prevRec = w.rec;
            w.rec = this.merged({ ...(prevRec as ContactRecord) }, v.ch, now);
            w.ch = { ...w.ch, ...v.ch };
            merged++;
            continue;
          }
          let prev: ContactRecord | null;
          try {
            prev = await this.existingFor(tx, v.ch, v.id, `contacts[${v.index}]`);
          } catch (e) {
            if (e instanceof ApiError) {
              errors.push({ index: v.index, error: e.message });
              continue;
            }
            throw e;
          }
          const pos = writes.length;
          writes.push({
            index: v.index,
            rec: this.merged(prev, v.ch, now),
            ch: v.ch,
            created: prev === null,
          });
          for (const k of keys) if (k) byKey.set(k, pos);
          if (prev) byKey.set(`id:${prev.id}`, pos);
        }
        const recs = await tx
          .putContacts(
            this.id,
            writes.map((w) => w.rec),
          )
          .then(keptInRange)
          .catch((e) => storeError(e, "contacts: "));
        return { writes, recs, now, merged };
      },
      ({ writes, recs, now }) => {
        writes.forEach((w, k) => this.applyContact(recs[k]!, w.ch, w.created, now));
      },
    );
    errors.sort((a, b) => a.index - b.index);
    return {
      result: { accepted: result.writes.length, duplicates: result.merged, errors },
      ids: result.recs.map((r) => r.id),
    };
  }

  /** With `ifMatch`, a stale tag answers 412, checked inside the commit (etag.ts). */
  async deleteContact(id: string, ifMatch?: IfMatch | null): Promise<void> {
    await this.live.write(
      async (tx) => {
        if (ifMatch) {
          const prev = await tx.getContact(this.id, id);
          if (!prev) throw notFound("contact", id);
          requireMatch(ifMatch, contactTag(this.wireContact(prev, false, null)));
        }
        const ok = await tx.deleteContact(this.id, id);
        if (!ok) throw notFound("contact", id);
      },
      () => this.engine.removeContact(id),
    );
  }

  async changeTags(id: string, add: string[], remove: string[]): Promise<void> {
    await this.live.write(
      async (tx) => {
        const prev = await tx.getContact(this.id, id);
        if (!prev) throw notFound("contact", id);
        const tags = new Set(prev.tags);
        for (const t of add) tags.add(t);
        for (const t of remove) tags.delete(t);
        await tx.putContacts(this.id, [{ ...prev, tags: [...tags] }]);
      },
      () => this.engine.changeTags(id, { add, remove }),
    );
  }

  /**
   * Resolves contact references; with `create`, unknown emails and external ids become
   * new contacts (SPEC §2), written through `tx`. Returns per reference the id or an error.
   */
  private async resolve(
    refs: ContactRef[],
    opts: { tx?: StoreOps; now?: number; path: (k: number) => string },
  ): Promise<{
    ids: (string | null)[];
    errors: (string | null)[];
    /** Per refused reference, its path and whether it names no contact (else it is invalid). */
    refused: ({ path: string; missing: boolean } | undefined)[];
    created: ContactRecord[];
  }> {
    // References are answered by the engine, which holds every committed contact and
    // knows them by email and external id too, except inside a group commit behind other
    // writes, which the engine does not show yet (LiveWorkspace.engineCurrent): those ask
    // the store. An email or external id the engine does not know is asked of the store
    // too (a miss costs a query, never a wrong answer).
    const found: (ContactRecord | { id: string } | null)[] = new Array(refs.length).fill(null);
    const lookups: ContactRef[] = [];
    const lookupAt: number[] = [];
    const engineKnows = opts.tx === undefined || this.live.engineCurrent;
    refs.forEach((ref, k) => {
      if (engineKnows) {
        const id = this.inMemory(ref);
        if (id !== undefined) {
          found[k] = { id };
          return;
        }
        if ("id" in ref) return;
      }
      lookups.push(ref);
      lookupAt.push(k);
    });
    if (lookups.length > 0) {
      const rows = await (opts.tx ?? this.store).findContacts(this.id, lookups);
      rows.forEach((r, j) => {
        found[lookupAt[j]!] = r;
      });
    }
    const ids: (string | null)[] = [];
    const errors: (string | null)[] = [];
    const refused: ({ path: string; missing: boolean } | undefined)[] = [];
    const toCreate = new Map<string, { write: ContactWrite; positions: number[] }>();
    refs.forEach((ref, k) => {
      const r = found[k];
      if (r) {
        ids.push(r.id);
        errors.push(null);
        return;
      }
      ids.push(null);
      if ("id" in ref || !opts.tx) {
        const key =
          "id" in ref
            ? `id "${ref.id}"`
            : "email" in ref
              ? `email "${ref.email}"`
              : `external_id "${ref.external_id}"`;
        errors.push(`${opts.path(k)}: no contact with ${key}`);
        refused[k] = { path: opts.path(k), missing: true };
        return;
      }
      const email = "email" in ref ? ref.email.trim().toLowerCase() : null;
      // A contact made by an event passes the same email check as one written directly.
      const problem = email !== null ? emailProblem(email) : null;
      if (problem) {
        const shown = JSON.stringify(email!.length > 80 ? `${email!.slice(0, 80)}…` : email);
        errors.push(`${opts.path(k)}.email: ${shown} ${problem}`);
        refused[k] = { path: `${opts.path(k)}.email`, missing: false };
        return;
      }
      errors.push(null);
      const key = email !== null ? `e:${email}` : `x:${(ref as { external_id: string }).external_id}`;
      const entry = toCreate.get(key);
      if (entry) entry.positions.push(k);
      else {
        toCreate.set(key, {
          write: this.merged(
            null,
            email !== null ? { email } : { external_id: (ref as { external_id: string }).external_id },
            opts.now!,
          ),
          positions: [k],
        });
      }
    });
    let created: ContactRecord[] = [];
    if (toCreate.size > 0) {
      const entries = [...toCreate.values()];
      created = await opts
        .tx!.putContacts(
          this.id,
          entries.map((e) => e.write),
        )
        .catch((e) => storeError(e, ""));
      entries.forEach((e, j) => {
        for (const p of e.positions) ids[p] = created[j]!.id;
      });
    }
    return { ids, errors, refused, created };
  }

  /** The live contact a reference names, as the engine knows it; undefined when it knows none. */
  private inMemory(ref: ContactRef): string | undefined {
    if ("id" in ref) return this.live.hasContact(ref.id) ? ref.id : undefined;
    return this.live.contactBy(ref)?.id;
  }

  /**
   * The events' contacts when the engine knows every one (by id, email or external id),
   * with how each was named when not by id (the commit checks it still is); null when
   * one is unknown, so the batch must go through the store (SPEC §2 creates the contact).
   */
  private namedInMemory(
    valid: readonly { e: EventInput }[],
  ): { ids: string[]; named: (ContactMatch | null)[] | undefined } | null {
    const ids: string[] = new Array(valid.length);
    let named: (ContactMatch | null)[] | undefined;
    for (let k = 0; k < valid.length; k++) {
      const ref = valid[k]!.e.contact;
      if ("id" in ref) {
        if (!this.live.hasContact(ref.id)) return null;
        ids[k] = ref.id;
        continue;
      }
      const m = this.live.contactBy(ref);
      if (m === undefined) return null;
      ids[k] = m.id;
      named ??= new Array(valid.length).fill(null);
      named[k] = m;
    }
    return { ids, named };
  }

  // ---------------------------------------------------------------- events

  async ingest(body: unknown): Promise<BatchResult> {
    const items = Array.isArray(body) ? body : [body];
    if (items.length > LIMITS.batchItems) {
      throw new ApiError("payload_too_large", `events: at most ${LIMITS.batchItems} events per request`);
    }
    // One event (not an array) is answered like one contact: an error is the answer, a
    // 400 (or 404 for an unknown contact id) naming the path, and nothing is written.
    const single = !Array.isArray(body);
    const root = (i: number) => (single ? "" : `[${i}]`);
    const errors: { index: number; error: string }[] = [];
    const valid: { index: number; e: EventInput; timestamp: number | null }[] = [];
    items.forEach((item, index) => {
      try {
        const e = plainEvent(item) ?? parse(EventInput, item, root(index));
        checkProperties(e.properties as JsonObject | undefined, issuePath(root(index), ["properties"]));
        const timestamp =
          e.timestamp === undefined
            ? null
            : instant(e.timestamp, issuePath(root(index), ["timestamp"]), this.timeZone);
        valid.push({ index, e, timestamp });
      } catch (err) {
        if (err instanceof ApiError && !single) errors.push({ index, error: err.message });
        else throw err;
      }
    });
    if (valid.length === 0) return { accepted: 0, duplicates: 0, errors };
    // Every contact one the workspace has, by id, email or external id (the common
    // case): nothing to resolve in the store, so the batch goes LiveWorkspace.ingestEvents'
    // way, committed while the engine applies the batch before it (docs/storage.md), same
    // answers. Its commit checks again that each contact is there and still has the email
    // or external id it was named by.
    const inMemory = this.namedInMemory(valid);
    if (inMemory !== null) {
      const now = this.clock.now();
      const writes: EventWrite[] = valid.map((v, k) => ({
        id: v.e.id ?? null,
        type: v.e.type,
        contact_id: inMemory.ids[k]!,
        timestamp: v.timestamp ?? now,
        properties: (v.e.properties as JsonObject | undefined) ?? {},
        received_at: now,
      }));
      try {
        const r = await this.live.ingestEvents(writes, inMemory.named ? { named: inMemory.named } : {});
        return { accepted: r.accepted, duplicates: r.duplicates, errors };
      } catch (e) {
        // A contact erased, or its email or external id changed, since the lookup above:
        // the way below resolves every reference anew in the store and answers per event.
        if (!(e instanceof UnknownContactError)) throw e;
      }
    }
    const { result } = await this.live.write(
      async (tx) => {
        const now = this.clock.now();
        const {
          ids,
          errors: refErrors,
          refused,
          created,
        } = await this.resolve(
          valid.map((v) => v.e.contact),
          { tx, now, path: (k) => issuePath(root(valid[k]!.index), ["contact"]) },
        );
        const writes: EventWrite[] = [];
        const positions: number[] = [];
        if (single && refErrors[0]) {
          const { path, missing } = refused[0]!;
          throw missing
            ? new ApiError("not_found", refErrors[0], { path })
            : new ApiError("invalid_request", refErrors[0], { path });
        }
        valid.forEach((v, k) => {
          if (refErrors[k]) {
            errors.push({ index: v.index, error: refErrors[k]! });
            return;
          }
          positions.push(k);
          // One object shape for all (no spreads): this loop runs once per ingested event.
          writes.push({
            id: v.e.id ?? null,
            type: v.e.type,
            contact_id: ids[k]!,
            timestamp: v.timestamp ?? now,
            properties: (v.e.properties as JsonObject | undefined) ?? {},
            received_at: now,
          });
        });
        const inserted =
          writes.length > 0
            ? await tx.insertEvents(this.id, writes)
            : { accepted: 0, duplicates: 0, items: [] };
        return { writes, inserted, created, now };
      },
      ({ writes, inserted, created, now }) => {
        for (const c of created) this.applyContact(c, null, true, now);
        writes.forEach((w, k) => {
          if (inserted.items[k] !== "accepted") return;
          this.engine.addEvent({
            type: w.type,
            contact_id: w.contact_id,
            timestamp: w.timestamp,
            properties: w.properties ?? {},
          });
        });
      },
    );
    errors.sort((a, b) => a.index - b.index);
    return { accepted: result.inserted.accepted, duplicates: result.inserted.duplicates, errors };
  }

  async contactEvents(id: string, req: { cursor?: string; limit: number }) {
    if (!(await this.store.getContact(this.id, id))) throw notFound("contact", id);
    const page = await this.store.listContactEvents(this.id, id, {
      limit: req.limit,
      ...(req.cursor ? { cursor: this.positions.open(req.cursor, "cursor") } : {}),
    });
    return {
      data: page.data.map((e) => ({
        id: e.id,
        type: e.type,
        contact_id: e.contact_id,
        timestamp: iso(e.timestamp),
        properties: e.properties,
        received_at: iso(e.received_at),
      })),
      next_cursor: page.next_cursor === null ? null : this.positions.seal(page.next_cursor),
    };
  }

  // ---------------------------------------------------------------- fields

  async listFields(): Promise<WireField[]> {
    const custom = await this.store.listFields(this.id);
    const builtins = this.registry.all().filter((f) => f.builtin);
    return [
      ...builtins.map((f) => ({
        key: f.key,
        type: f.type,
        label: f.label ?? f.key,
        builtin: true,
        created_at: null,
        computed: null,
        computed_text: null,
      })),
      ...custom.map((f) => this.wireField(f)),
    ];
  }

  /** A custom field on the wire; a computed one with its definition, also in the text form. */
  wireField(f: CustomField): WireField {
    const def = this.engine.computedFields().get(f.key) ?? null;
    return {
      key: f.key,
      type: f.type,
      label: f.label,
      builtin: false,
      created_at: iso(f.created_at),
      computed: def,
      computed_text: def === null ? null : computedText(def),
    };
  }

  async createField(body: unknown): Promise<CustomField> {
    const input = parse(FieldInput, body);
    const problem = FieldRegistry.checkCustom(
      { key: input.key, type: input.type },
      new Map(this.registry.all().map((f) => [f.key, f])),
    );
    if (problem) {
      const conflict = problem.includes("already declared");
      throw conflict
        ? new ApiError("conflict", problem, { path: "key" })
        : invalid("key", problem.replace(/^field key "[^"]*": /, ""));
    }
    if (input.computed !== undefined) return this.createComputedField(input);
    const { result } = await this.live.write(
      async (tx) => {
        const f = await tx
          .createField(this.id, { key: input.key, type: input.type, label: input.label ?? input.key })
          .catch((e) => storeError(e, "key"));
        return { f, ...(await this.storedValuesOf(tx, f)) };
      },
      ({ f, usable }) => {
        this.engine.defineField({ key: f.key, type: f.type, label: f.label });
        for (const r of usable)
          this.engine.patchContact({ id: r.id, fields: r.fields }, { receivedAt: r.updated_at });
      },
    );
    return result.f;
  }

  /**
   * A computed field (docs/rules.md): its definition checked as an event condition, its
   * type the measure's. Values stored under its key before (undeclared traits) are
   * dropped: the key now names the computed value.
   */
  private async createComputedField(input: FieldDeclaration): Promise<CustomField> {
    let def: ComputedDefinition;
    try {
      def = validateComputed(input.computed, {
        type: input.type,
        fields: this.registry,
        timeZone: this.timeZone,
      });
    } catch (e) {
      definitionError(e);
    }
    const { result } = await this.live.write(
      async (tx) => {
        const f = await tx
          .createField(this.id, {
            key: input.key,
            type: input.type,
            label: input.label ?? input.key,
            computed: def,
          })
          .catch((e) => storeError(e, "key"));
        await this.dropStoredValues(tx, f.key);
        return f;
      },
      (f) => this.engine.defineComputedField({ key: f.key, type: f.type, label: f.label }, def),
    );
    return result;
  }

  private async dropStoredValues(tx: StoreOps, key: string): Promise<void> {
    if (this.live.engineCurrent && !this.engine.contacts.undeclared.has(key)) return;
    const changed: ContactRecord[] = [];
    for await (const page of tx.streamContacts(this.id)) {
      for (const r of page) {
        if (!Object.hasOwn(r.fields, key)) continue;
        const fields = { ...r.fields };
        delete fields[key];
        changed.push({ ...r, fields });
      }
    }
    if (changed.length > 0) await tx.putContacts(this.id, changed);
  }

  /**
   * Deletes a computed field: 404 unknown, 409 while a segment's rule names it; a
   * built-in or stored custom field is not deleted (its values would be lost).
   */
  async deleteField(key: string): Promise<void> {
    const def = this.registry.get(key);
    if (!def) throw notFound("field", key);
    if (def.builtin) throw new ApiError("forbidden", `field "${key}" is a built-in field`);
    if (!this.engine.computedFields().has(key)) {
      throw new ApiError(
        "conflict",
        `field "${key}" holds contacts' values; only computed fields can be deleted`,
        { path: "key" },
      );
    }
    const uses = this.engine.fieldUses(key);
    if (uses.length > 0) throw fieldInUse(key, uses);
    await this.live.write(
      (tx) => tx.deleteField(this.id, key),
      () => this.engine.removeComputedField(key),
    );
  }

  // ---------------------------------------------------------------- segments

  isDefault(id: string): boolean {
    return (DEFAULT_SEGMENT_IDS as readonly string[]).includes(id);
  }

  private requireSegment(id: string): void {
    if (!this.engine.segment(id)) throw notFound("segment", id);
  }

  private wireSegment(rec: SegmentRecord | null, id: string): WireSegment {
    const def = this.engine.segment(id)!;
    const size = this.engine.members(id).count;
    if (rec === null) {
      return {
        id,
        name: DEFAULT_NAMES.get(id) ?? id,
        description: DEFAULT_DESCRIPTIONS[id] ?? "",
        kind: "dynamic",
        rule: def.rule as unknown as JsonValue,
        rule_text: ruleTextOf(def.rule),
        default: true,
        version: 1,
        size,
        created_at: null,
        updated_at: null,
      };
    }
    return {
      id,
      name: rec.name,
      description: rec.description,
      kind: rec.kind,
      rule: rec.rule,
      rule_text: ruleTextOf(rec.rule),
      default: false,
      version: rec.version,
      size,
      created_at: iso(rec.created_at),
      updated_at: iso(rec.updated_at),
    };
  }

  async listSegments(): Promise<WireSegment[]> {
    const stored = await this.store.listSegments(this.id);
    return [
      ...DEFAULT_SEGMENT_IDS.filter((id) => this.engine.segment(id)).map((id) => this.wireSegment(null, id)),
      ...stored.filter((s) => this.engine.segment(s.id)).map((s) => this.wireSegment(s, s.id)),
    ];
  }

  /** A segment's versions, newest first (a default segment has its one). */
  async segmentVersions(id: string): Promise<SegmentVersion[]> {
    if (this.isDefault(id)) {
      this.requireSegment(id);
      const s = this.wireSegment(null, id);
      return [
        { segment_id: id, version: 1, name: s.name, description: s.description, rule: s.rule, created_at: 0 },
      ];
    }
    if (!this.engine.segment(id)) throw notFound("segment", id);
    const versions = await this.store.listSegmentVersions(this.id, id);
    if (versions.length === 0) throw notFound("segment", id);
    return versions.sort((a, b) => b.version - a.version);
  }

  async getSegment(id: string): Promise<WireSegment> {
    if (this.isDefault(id)) {
      this.requireSegment(id);
      return this.wireSegment(null, id);
    }
    const rec = await this.store.getSegment(this.id, id);
    if (!rec || !this.engine.segment(id)) throw notFound("segment", id);
    return this.wireSegment(rec, id);
  }

  private checkRule(kind: "dynamic" | "static", rule: unknown, selfId?: string): void {
    if (kind === "static") {
      if (rule !== undefined && rule !== null) throw invalid("rule", "a static segment has no rule");
      return;
    }
    if (rule === undefined) throw invalid("rule", "a dynamic segment needs a rule");
    try {
      this.engine.validate(rule, selfId);
    } catch (e) {
      ruleError(e, "rule");
    }
  }

  async createSegment(body: unknown): Promise<WireSegment> {
    const input = parse(SegmentInput, body);
    const kind = input.kind ?? "dynamic";
    input.rule = ruleOfInput(input);
    this.checkRule(kind, input.rule);
    const id = newId("seg", this.clock.now());
    const { result } = await this.live.write(
      (tx) =>
        tx.createSegment(this.id, {
          id,
          kind,
          name: input.name,
          ...(input.description !== undefined ? { description: input.description } : {}),
          rule: kind === "dynamic" ? (input.rule as JsonValue) : null,
        }),
      (rec) => {
        this.engine.defineSegment({ id: rec.id, kind, ...(kind === "dynamic" ? { rule: rec.rule } : {}) });
      },
    );
    return this.wireSegment(result, result.id);
  }

  /** With `ifMatch`, refused (412) unless the segment's version tag still matches. */
  async replaceSegment(
    id: string,
    body: unknown,
    opts: { ifMatch?: IfMatch | null } = {},
  ): Promise<WireSegment> {
    if (this.isDefault(id)) throw new ApiError("forbidden", `segment "${id}" is a read-only default segment`);
    const input = parse(SegmentReplace, body);
    const existing = await this.store.getSegment(this.id, id);
    if (!existing) throw notFound("segment", id);
    if (input.id !== undefined && input.id !== id)
      throw invalid("id", `is "${input.id}", not this segment's "${id}"`);
    if (input.kind !== undefined && input.kind !== existing.kind) {
      throw new ApiError(
        "conflict",
        `kind: a ${existing.kind} segment cannot become ${input.kind}; create a new segment instead`,
        { path: "kind" },
      );
    }
    input.rule = ruleOfInput(input);
    if (existing.kind === "static" && input.rule === null) delete input.rule;
    this.checkRule(existing.kind, input.rule, id);
    const { result } = await this.live.write(
      async (tx) => {
        if (opts.ifMatch) {
          const cur = await tx.getSegment(this.id, id);
          if (!cur) throw notFound("segment", id);
          requireMatch(opts.ifMatch, segmentTag(cur.version));
        }
        const rec = await tx.updateSegment(this.id, id, {
          name: input.name,
          description: input.description ?? "",
          ...(existing.kind === "dynamic" ? { rule: input.rule as JsonValue } : {}),
        });
        if (!rec) throw notFound("segment", id);
        return rec;
      },
      (rec) => {
        if (rec.kind === "dynamic") this.engine.defineSegment({ id, kind: "dynamic", rule: rec.rule });
      },
    );
    return this.wireSegment(result, id);
  }

  async uses(id: string): Promise<{ type: string; id: string }[]> {
    this.requireSegment(id);
    const segs = this.engine.usesOf(id).map((s) => ({ type: "segment", id: s }));
    const others = (await this.hooks.segmentUsers?.(this.id, id)) ?? [];
    return [...segs, ...others];
  }

  async deleteSegment(id: string, opts: { ifMatch?: IfMatch | null } = {}): Promise<void> {
    if (this.isDefault(id)) throw new ApiError("forbidden", `segment "${id}" is a read-only default segment`);
    if (!(await this.store.getSegment(this.id, id))) throw notFound("segment", id);
    const uses = await this.uses(id);
    if (uses.length > 0) {
      throw new ApiError(
        "conflict",
        `segment "${id}" is in use by ${uses.map((u) => `${u.type} ${u.id}`).join(", ")}`,
        { uses },
      );
    }
    await this.live.write(
      async (tx) => {
        if (opts.ifMatch) {
          const cur = await tx.getSegment(this.id, id);
          if (!cur) throw notFound("segment", id);
          requireMatch(opts.ifMatch, segmentTag(cur.version));
        }
        return tx.deleteSegment(this.id, id);
      },
      () => this.engine.removeSegment(id),
    );
  }

  async preview(body: unknown): Promise<{
    count: number;
    sample: WireContact[];
    took_ms: number;
    /** The rule previewed in both forms: an editor switching between them needs the other one. */
    rule: unknown;
    rule_text: string | null;
    diff?: { entered: number; exited: number; entered_sample: WireContact[]; exited_sample: WireContact[] };
  }> {
    const input = parse(PreviewInput, body);
    input.rule = ruleOfInput(input);
    if (input.rule === undefined) throw invalid("rule", "required (or rule_text)");
    const t0 = performance.now();
    let members: ReturnType<typeof this.engine.evaluate>;
    try {
      this.engine.validate(input.rule, input.segment_id);
      members = this.engine.evaluate(input.rule);
    } catch (e) {
      ruleError(e, "rule");
    }
    let diff: { entered: string[]; exited: string[] } | undefined;
    if (input.segment_id !== undefined) {
      this.requireSegment(input.segment_id);
      if (this.isDefault(input.segment_id))
        throw invalid("segment_id", `segment "${input.segment_id}" is read-only`);
      if (this.engine.segment(input.segment_id)!.kind === "static") {
        throw invalid("segment_id", `segment "${input.segment_id}" is static`);
      }
      diff = this.engine.previewEdit(input.segment_id, input.rule);
    }
    const sampleIds = sampleOf(members!, 10);
    const took_ms = Math.round((performance.now() - t0) * 1000) / 1000;
    const sample = await this.contactsByIds(sampleIds);
    const out: Awaited<ReturnType<WorkspaceService["preview"]>> = {
      count: members!.count,
      sample,
      took_ms,
      rule: input.rule,
      rule_text: ruleTextOf(input.rule as JsonValue),
    };
    if (diff) {
      out.diff = {
        entered: diff.entered.length,
        exited: diff.exited.length,
        entered_sample: await this.contactsByIds(diff.entered.slice(0, 10)),
        exited_sample: await this.contactsByIds(diff.exited.slice(0, 10)),
      };
    }
    return out;
  }

  async contactsByIds(ids: string[]): Promise<WireContact[]> {
    if (ids.length === 0) return [];
    const recs = await this.store.getContacts(this.id, ids);
    return recs.filter((r): r is ContactRecord => r !== null).map(this.wireMany());
  }

  /** Members now (from the engine) or at a past instant (from the change log). */
  async members(
    id: string,
    req: {
      cursor?: string;
      limit: number;
      at?: string;
      contact?: { id?: string; email?: string; external_id?: string };
    },
  ): Promise<Page<WireContact>> {
    this.requireSegment(id);
    // "Is this contact in?": the one contact named, if it is a member now.
    if (req.contact !== undefined) return this.lookup(req.contact, id);
    if (req.at !== undefined) {
      const at = instant(req.at, "at", this.timeZone);
      // The log is read below, but changes are appended to it lazily (with the next write
      // or tick): without this, `?at=` just after an acknowledged write (or a time-driven
      // change) missed it, against SPEC §3.3a. tick() moves the engine to now and logs
      // every pending change first.
      await this.live.tick();
      const page = await this.store.membersAt(this.id, id, at, {
        limit: req.limit,
        ...(req.cursor ? { cursor: req.cursor } : {}),
      });
      const recs = await this.store.getContacts(this.id, page.data);
      return {
        data: page.data.map((cid, k) => {
          const r = recs[k];
          // An erased contact is still counted in the past, with nothing but its id.
          return r ? this.wireContact(r, false, null) : ({ id: cid } as WireContact);
        }),
        next_cursor: page.next_cursor,
      };
    }
    const { data, next_cursor } = await this.listContacts({
      segment: id,
      limit: req.limit,
      ...(req.cursor ? { cursor: req.cursor } : {}),
    });
    return { data, next_cursor };
  }

  private async refsToIds(refs: ContactRef[], root: string): Promise<string[]> {
    const { ids, errors } = await this.resolve(refs, { path: (k) => `${root}[${k}]` });
    const bad = errors.findIndex((e) => e !== null);
    if (bad >= 0) throw new ApiError("not_found", errors[bad]!, { path: `${root}[${bad}]` });
    return ids as string[];
  }

  async addMembers(id: string, body: unknown): Promise<{ added: number }> {
    if (this.isDefault(id)) throw new ApiError("forbidden", `segment "${id}" is a read-only default segment`);
    this.requireSegment(id);
    const input = parse(MembersInput, body);
    const expiresAt =
      input.expires_at !== undefined ? instant(input.expires_at, "expires_at", this.timeZone) : null;
    if (expiresAt !== null && expiresAt <= this.clock.now())
      throw invalid("expires_at", "must be in the future");
    const ids = [...new Set(await this.refsToIds(input.contacts, "contacts"))];
    await this.live.write(
      (tx) =>
        tx.putMembers(
          this.id,
          id,
          ids.map((contact_id) => ({ contact_id, action: "added" as const, expires_at: expiresAt })),
        ),
      () => this.engine.addMembers(id, ids, expiresAt !== null ? { expiresAt } : {}),
    );
    return { added: ids.length };
  }

  async removeMembers(id: string, body: unknown): Promise<{ removed: number }> {
    if (this.isDefault(id)) throw new ApiError("forbidden", `segment "${id}" is a read-only default segment`);
    this.requireSegment(id);
    const input = parse(RefsInput, body);
    const ids = [...new Set(await this.refsToIds(input.contacts, "contacts"))];
    const isStatic = this.engine.segment(id)!.kind === "static";
    await this.live.write(
      (tx) =>
        isStatic
          ? tx.deleteMembers(this.id, id, ids)
          : tx.putMembers(
              this.id,
              id,
              ids.map((contact_id) => ({ contact_id, action: "removed" as const, expires_at: null })),
            ),
      () => this.engine.removeMembers(id, ids),
    );
    return { removed: ids.length };
  }

  /**
   * A static segment has members, not overrides (SPEC §3): its members are stored like
   * "added" overrides, so without this check GET …/overrides listed them as overrides
   * and DELETE …/overrides silently removed them. A default segment is read-only: lifting
   * reached the engine after the commit and answered 500.
   */
  private requireOverridable(id: string, write: boolean): void {
    this.requireSegment(id);
    if (write && this.isDefault(id))
      throw new ApiError("forbidden", `segment "${id}" is a read-only default segment`);
    if (this.engine.segment(id)!.kind === "static") {
      throw new ApiError(
        "invalid_request",
        `segment "${id}" is static: it has members, not overrides (use /v1/segments/${id}/members)`,
        { path: "id" },
      );
    }
  }

  overrides(id: string) {
    this.requireOverridable(id, false);
    return this.engine.overrides(id).map((o) => ({ ...o, expires_at: iso(o.expires_at) }));
  }

  async liftOverrides(id: string, body: unknown): Promise<{ lifted: number }> {
    this.requireOverridable(id, true);
    const input = parse(RefsInput, body);
    const ids = [...new Set(await this.refsToIds(input.contacts, "contacts"))];
    const { result } = await this.live.write(
      (tx) => tx.deleteMembers(this.id, id, ids),
      () => this.engine.liftOverrides(id, ids),
    );
    return { lifted: result };
  }

  async action(id: string, body: unknown): Promise<{ changed: number }> {
    this.requireSegment(id);
    const input = parse(ActionInput, body);
    const members = this.engine.members(id).ids();
    if ("copy_to" in input) {
      const target = input.copy_to;
      if (!this.engine.segment(target))
        throw new ApiError("not_found", `copy_to: segment "${target}" not found`);
      if (this.engine.segment(target)!.kind !== "static")
        throw invalid("copy_to", `segment "${target}" is not static`);
      const before = this.engine.members(target);
      const fresh = members.filter((c) => !before.has(c));
      for (let k = 0; k < fresh.length; k += 5000) {
        const chunk = fresh.slice(k, k + 5000);
        await this.live.write(
          (tx) =>
            tx.putMembers(
              this.id,
              target,
              chunk.map((contact_id) => ({ contact_id, action: "added" as const })),
            ),
          () => this.engine.addMembers(target, chunk),
        );
      }
      return { changed: fresh.length };
    }
    const add = "tag_add" in input ? input.tag_add.map((t) => t.trim()) : [];
    const remove = "tag_remove" in input ? input.tag_remove.map((t) => t.trim()) : [];
    let changed = 0;
    for (let k = 0; k < members.length; k += 1000) {
      const chunk = members.slice(k, k + 1000);
      const { result } = await this.live.write(
        async (tx) => {
          const recs = (await tx.getContacts(this.id, chunk)).filter((r): r is ContactRecord => r !== null);
          const writes = recs.flatMap((r) => {
            const tags = new Set(r.tags);
            for (const t of add) tags.add(t);
            for (const t of remove) tags.delete(t);
            if (tags.size === r.tags.length && r.tags.every((t) => tags.has(t))) return [];
            return [{ ...r, tags: [...tags] }];
          });
          if (writes.length > 0) await tx.putContacts(this.id, writes);
          return writes.map((w) => w.id!);
        },
        (ids) => {
          for (const c of ids) this.engine.changeTags(c, { add, remove });
        },
      );
      changed += result.length;
    }
    return { changed };
  }

  async changes(id: string, req: { since?: string; cursor?: string; limit: number }) {
    this.requireSegment(id);
    await this.live.flush();
    const since = req.since !== undefined ? instant(req.since, "since", this.timeZone) : undefined;
    const page = await this.store.listChanges(this.id, {
      segmentId: id,
      limit: req.limit,
      ...(since !== undefined ? { since } : {}),
      ...(req.cursor ? { cursor: String(this.positions.openSeq(req.cursor, "cursor")) } : {}),
    });
    return {
      data: page.data.map(wireChange),
      next_cursor: page.next_cursor === null ? null : this.positions.seal(page.next_cursor),
    };
  }

  /**
   * With a hand override in force the answer names it: membership is then the override's,
   * and `rule` says what the rule alone would decide.
   */
  explain(
    contactId: string,
    segmentId: string,
  ): {
    member: boolean;
    rule: ExplainNode | null;
    override?: { action: "added" | "removed"; expires_at: string | null };
  } {
    this.requireSegment(segmentId);
    if (this.engine.contacts.index(contactId) === undefined) throw notFound("contact", contactId);
    const member = this.engine.members(segmentId).has(contactId);
    const def = this.engine.segment(segmentId)!;
    if (def.kind === "static") return { member, rule: null };
    const rule = this.engine.explain(contactId, segmentId);
    const o = this.engine.overrides(segmentId).find((x) => x.contact_id === contactId);
    if (!o) return { member, rule };
    return { member, rule, override: { action: o.action, expires_at: iso(o.expires_at) } };
  }

  /** Time-driven changes and the changes not logged yet, to the log. */
  tick(): Promise<MembershipChange[]> {
    return this.live.tick();
  }

  // ---------------------------------------------------------------- writes composed elsewhere
  // Segment ingest (src/service/segment/) and contact merges (contact-merge.ts) compose
  // their own `live.write`s from the same steps as the upserts above.

  /**
   * Values stored under a field's key before it was declared (Segment traits, docs/ingest.md):
   * the contacts whose value has the field's type, for the engine, which knew no such
   * field; values of another type are dropped from the store, which keeps only values a
   * declared field can hold.
   */
  private async storedValuesOf(tx: StoreOps, f: CustomField): Promise<{ usable: ContactRecord[] }> {
    // The engine has seen every stored contact (loaded or written), and notes the keys it
    // skipped: a key it never saw has no stored values, unless writes ahead of this one
    // in its group commit, not applied yet, stored some.
    if (this.live.engineCurrent && !this.engine.contacts.undeclared.has(f.key)) return { usable: [] };
    const registry = this.registry.withField({ key: f.key, type: f.type, label: f.label });
    const usable: ContactRecord[] = [];
    const dropped: ContactRecord[] = [];
    for await (const page of tx.streamContacts(this.id)) {
      for (const r of page) {
        if (!Object.hasOwn(r.fields, f.key)) continue;
        try {
          contactChanges({ fields: { [f.key]: r.fields[f.key] } }, registry, this.timeZone);
          usable.push(r);
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          const fields = { ...r.fields };
          delete fields[f.key];
          dropped.push({ ...r, fields });
        }
      }
    }
    if (dropped.length > 0) await tx.putContacts(this.id, dropped);
    return { usable };
  }

  /** The workspace clock's now. */
  now(): number {
    return this.clock.now();
  }

  /** The stored record after a write of `ch` over `prev` (null: a new contact), as upserts compute it. */
  contactWrite(prev: ContactRecord | null, ch: ContactChanges, now: number): ContactWrite {
    return this.merged(prev, ch, now);
  }

  /** Brings the engine along a committed contact write: a new contact whole, else the keys of `ch`. */
  applyContactWrite(rec: ContactRecord, ch: ContactChanges, created: boolean, now: number): void {
    this.applyContact(rec, ch, created, now);
  }

  /** Merges contact `from` into `to` (contact-merge.ts): one durable write. */
  mergeContacts(
    from: string,
    to: string,
  ): Promise<{ contact: WireContact & { segments?: string[] }; events: number }> {
    return mergeContacts(this, { from, to }).then((r) => ({
      contact: this.wireContact(r.contact, true),
      events: r.events,
    }));
  }
}

export function wireChange(c: ChangeRecord) {
  return {
    segment_id: c.segment_id,
    contact_id: c.contact_id,
    change: c.change,
    at: new Date(c.at).toISOString(),
  };
}

function sampleOf(m: { ids(limit?: number): string[] }, n: number): string[] {
  return m.ids(n);
}
