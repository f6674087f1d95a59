/**
 * The profile side of a Segment batch, as one `LiveWorkspace.write`: who each message is
 * about (its userId's contact, its anonymousId's, or a new one), traits and group tags,
 * the ties between anonymous ids and contacts (`identities`), and the merges those ties
 * cause (docs/ingest.md). Messages apply in batch order over an in-memory view of the
 * contacts involved, read once at the start of the commit; contacts are written once at
 * its end. Events are not written here: the caller ingests them after, against the
 * contact ids this write answers.
 */
import { newId } from "../../store/ids.ts";
import type { ContactRecord, ContactRef, ContactWrite, StoreOps } from "../../store/types.ts";
import { absorbedChanges, applyMovedEvents, type MovedContact, moveContact } from "../contact-merge.ts";
import { ApiError } from "../errors.ts";
import type { ContactChanges } from "../wire.ts";
import { newContact } from "../workspace/contact-writes.ts";
import type { WorkspaceService } from "../workspace.ts";
import type { MappedMessage } from "./map.ts";
import { recheckUndeclared } from "./traits.ts";

/** A message with a profile part, and where it is in the batch. */
export interface ProfileMessage {
  index: number;
  root: string;
  m: MappedMessage;
}

export interface ProfileOutcome {
  /** Per message given (same order): the contact it is about, or null when it failed. */
  contactIds: (string | null)[];
  errors: { index: number; error: string }[];
  warnings: { index: number; warning: string }[];
}

interface Draft {
  id: string;
  /** As stored before this write; null for a contact created by it. */
  prev: ContactRecord | null;
  rec: ContactWrite;
  /** Every key this write changed, with its final value (the engine's patch). */
  ch: ContactChanges;
  /** Written already (a contact created here that another is merged into). */
  stored: boolean;
}

const isAnonymous = (d: Draft) => !d.rec.external_id && !d.rec.email;

class ProfileWrite {
  private readonly drafts = new Map<string, Draft>();
  /** Contacts merged into another one by this write: id → the id that absorbed it. */
  private readonly redirect = new Map<string, string>();
  private readonly byExternal = new Map<string, string | null>();
  private readonly byEmail = new Map<string, string | null>();
  private readonly byAnon = new Map<string, string | null>();
  private readonly identities = new Map<string, string>();
  readonly moved: MovedContact[] = [];

  constructor(
    private readonly ws: WorkspaceService,
    private readonly tx: StoreOps,
    private readonly now: number,
  ) {}

  /** Reads every contact and identity the messages name, in a few queries. */
  async load(msgs: ProfileMessage[]): Promise<void> {
    const ws = this.ws.id;
    const anon = new Set<string>();
    const external = new Set<string>();
    const emails = new Set<string>();
    for (const { m } of msgs) {
      if (m.anonymousId) anon.add(m.anonymousId);
      if (m.userId) external.add(m.userId);
      if (m.previousId) {
        anon.add(m.previousId);
        external.add(m.previousId);
      }
      if (m.traits?.changes.email) emails.add(m.traits.changes.email);
    }
    const anonIds = [...anon];
    // Emails and external ids the engine knows are read by contact id (a primary key
    // lookup, far cheaper than the store's search by key); the engine is up to date
    // unless other writes of this group commit came first (LiveWorkspace.engineCurrent).
    const live = this.ws.live;
    const inEngine = live.engineCurrent;
    const ids: string[] = [];
    const refs: ContactRef[] = [];
    for (const external_id of external) {
      const id = inEngine ? live.contactIdBy({ external_id }) : undefined;
      if (id !== undefined) ids.push(id);
      else refs.push({ external_id });
    }
    for (const email of emails) {
      const id = inEngine ? live.contactIdBy({ email }) : undefined;
      if (id !== undefined) ids.push(id);
      else refs.push({ email });
    }
    const repos = this.tx.workspace(ws);
    const [owners, found] = await Promise.all([
      anonIds.length > 0 ? repos.identities.find(anonIds) : Promise.resolve([]),
      refs.length > 0 ? repos.contacts.find(refs) : Promise.resolve([]),
    ]);
    for (const r of found) if (r) this.known(r);
    const missing = [
      ...new Set(
        [...ids, ...owners.filter((o): o is string => o !== null)].filter((c) => !this.drafts.has(c)),
      ),
    ];
    const recs = missing.length > 0 ? await repos.contacts.getMany(missing) : [];
    for (const r of recs) if (r) this.known(r);
    for (const x of external) if (!this.byExternal.has(x)) this.byExternal.set(x, null);
    for (const e of emails) if (!this.byEmail.has(e)) this.byEmail.set(e, null);
    // An identity whose contact is gone (erased since) ties nothing.
    anonIds.forEach((a, k) => {
      const c = owners[k] ?? null;
      this.byAnon.set(a, c !== null && this.drafts.has(c) ? c : null);
    });
  }

  private known(r: ContactRecord): void {
    if (this.drafts.has(r.id)) return;
    this.drafts.set(r.id, { id: r.id, prev: r, rec: { ...r }, ch: {}, stored: true });
    if (r.external_id) this.byExternal.set(r.external_id, r.id);
    if (r.email) this.byEmail.set(r.email, r.id);
  }

  private draft(id: string | null | undefined): Draft | null {
    let c = id ?? null;
    while (c !== null && this.redirect.has(c)) c = this.redirect.get(c)!;
    return c === null ? null : (this.drafts.get(c) ?? null);
  }

  private async change(d: Draft, ch: ContactChanges): Promise<void> {
    const before = d.rec;
    const rec = await this.ws.contactWrite(before as ContactRecord, ch, this.now);
    // SPEC §1: created_at only at creation, which for a contact created here is this write.
    if (d.prev === null && ch.created_at != null) rec.created_at = ch.created_at;
    rec.id = d.id;
    d.rec = rec;
    const fields = ch.fields ? { ...(d.ch.fields ?? {}), ...ch.fields } : d.ch.fields;
    d.ch = { ...d.ch, ...ch, ...(fields ? { fields } : {}) };
    if (before.external_id && before.external_id !== rec.external_id)
      this.byExternal.set(before.external_id, null);
    if (ch.external_id) this.byExternal.set(ch.external_id, d.id);
    if (ch.email) this.byEmail.set(ch.email, d.id);
  }

  private create(ch: ContactChanges): Draft {
    const id = newId("ct", this.now);
    const rec = { ...newContact(ch, this.now), id };
    const d: Draft = { id, prev: null, rec, ch: { ...ch }, stored: false };
    this.drafts.set(id, d);
    if (ch.external_id) this.byExternal.set(ch.external_id, id);
    if (ch.email) this.byEmail.set(ch.email, id);
    return d;
  }

  private link(anonymousId: string, d: Draft): void {
    if (this.byAnon.get(anonymousId) === d.id && !this.identities.has(anonymousId)) return;
    this.byAnon.set(anonymousId, d.id);
    this.identities.set(anonymousId, d.id);
  }

  /** `from` becomes part of `into`: its profile fills gaps, its stored data moves, it is erased. */
  private async merge(from: Draft, into: Draft): Promise<void> {
    if (from.stored) {
      if (!into.stored) {
        await this.tx.workspace(this.ws.id).contacts.put([into.rec]);
        into.stored = true;
      }
      this.moved.push(await moveContact(this.tx, this.ws.id, from.id, into.id));
    }
    const ch = absorbedChanges(into.rec, from.rec);
    this.drafts.delete(from.id);
    this.redirect.set(from.id, into.id);
    if (from.rec.external_id) this.byExternal.set(from.rec.external_id, null);
    if (from.rec.email) this.byEmail.set(from.rec.email, null);
    for (const [a, c] of this.byAnon) if (c === from.id) this.byAnon.set(a, into.id);
    for (const [a, c] of this.identities) if (c === from.id) this.identities.set(a, into.id);
    if (Object.keys(ch).length > 0) await this.change(into, ch);
  }

  /** The contact of a userId, or the one an email names that no userId has claimed yet. */
  private async userContact(userId: string, email: string | undefined | null): Promise<Draft | null> {
    const u = this.draft(this.byExternal.get(userId));
    if (u) return u;
    const k = email ? this.draft(this.byEmail.get(email)) : null;
    if (k && !k.rec.external_id) {
      await this.change(k, { external_id: userId });
      return k;
    }
    return null;
  }

  private async target(m: MappedMessage): Promise<Draft> {
    const email = m.traits?.changes.email;
    if (m.type === "alias") {
      const prevId = m.previousId!;
      const p = this.draft(this.byAnon.get(prevId)) ?? this.draft(this.byExternal.get(prevId));
      const u = this.draft(this.byExternal.get(m.userId!));
      if (p && u && p.id !== u.id) await this.merge(p, u);
      const t = u ?? p ?? this.create({ external_id: m.userId! });
      if (!u) await this.change(t, { external_id: m.userId! });
      this.link(prevId, t);
      return t;
    }
    const a = m.anonymousId ? this.draft(this.byAnon.get(m.anonymousId)) : null;
    if (m.userId) {
      const u = await this.userContact(m.userId, email);
      if (u) {
        if (a && a.id !== u.id && isAnonymous(a)) await this.merge(a, u);
        if (m.anonymousId) this.link(m.anonymousId, u);
        return u;
      }
      // The anonymous visitor becomes the known user (no contact of theirs yet).
      if (a && !a.rec.external_id) {
        await this.change(a, { external_id: m.userId });
        return a;
      }
      const t = this.create({ external_id: m.userId });
      if (m.anonymousId) this.link(m.anonymousId, t);
      return t;
    }
    const anonymousId = m.anonymousId!;
    const k = email ? this.draft(this.byEmail.get(email)) : null;
    if (a && k && k.id !== a.id && isAnonymous(a)) {
      await this.merge(a, k);
      return k;
    }
    const t = a ?? k ?? this.create({});
    this.link(anonymousId, t);
    return t;
  }

  /** Applies one message; returns its contact id and warnings. */
  async apply(pm: ProfileMessage, warn: (w: string) => void): Promise<string> {
    const { m } = pm;
    const t = await this.target(m);
    const ch: ContactChanges = { ...(m.traits?.changes ?? {}) };
    if (ch.email && ch.email !== t.rec.email) {
      const owner = this.draft(this.byEmail.get(ch.email));
      if (owner && owner.id !== t.id) {
        warn(`${pm.root}.traits.email: "${ch.email}" belongs to another contact (${owner.id}); not applied`);
        delete ch.email;
      }
    } else delete ch.email;
    if (m.tags.length > 0) {
      const tags = [...(t.rec.tags ?? [])];
      const seen = new Set(tags.map((x) => x.toLowerCase()));
      for (const tag of m.tags) if (!seen.has(tag.toLowerCase())) tags.push(tag);
      if (tags.length !== (t.rec.tags ?? []).length) ch.tags = tags;
    }
    if (Object.keys(ch).length > 0) await this.change(t, ch);
    return t.id;
  }

  /** Writes the contacts and identities; what `finish` then applies to the engine. */
  async flush(): Promise<{ recs: { rec: ContactRecord; d: Draft }[] }> {
    const repos = this.tx.workspace(this.ws.id);
    const writes = [...this.drafts.values()].filter((d) => d.prev === null || Object.keys(d.ch).length > 0);
    const recs = writes.length > 0 ? await repos.contacts.put(writes.map((d) => d.rec)) : [];
    const pairs = [...this.identities].map(([anonymous_id, c]) => ({
      anonymous_id,
      contact_id: this.draft(c)!.id,
    }));
    if (pairs.length > 0) await repos.identities.put(pairs);
    return { recs: recs.map((rec, k) => ({ rec, d: writes[k]! })) };
  }

  resolve(id: string): string {
    return this.draft(id)?.id ?? id;
  }
}

/**
 * Applies the profile part of `msgs` as one write; a message that fails (a conflict
 * the checks before did not see) fails alone.
 */
export async function applyProfiles(ws: WorkspaceService, msgs: ProfileMessage[]): Promise<ProfileOutcome> {
  const errors: ProfileOutcome["errors"] = [];
  const warnings: ProfileOutcome["warnings"] = [];
  const { result } = await ws.live.write(
    async (tx) => {
      const now = ws.now();
      // A field may have been declared since the traits were checked: its values are
      // checked against it now, so the store keeps only values a declared field can hold.
      if (msgs.some((p) => (p.m.traits?.undeclared.length ?? 0) > 0)) {
        const declared = new Map(
          (await tx.workspace(ws.id).fields.list()).map((f) => [f.key, f.type as string]),
        );
        for (const p of msgs) {
          if (p.m.traits)
            recheckUndeclared(
              p.m.traits,
              declared,
              ws.registry,
              ws.timeZone,
              `${p.root}.traits`,
              ws.engine.computedFields(),
            );
        }
      }
      const w = new ProfileWrite(ws, tx, now);
      await w.load(msgs);
      const ids: (string | null)[] = [];
      for (const p of msgs) {
        try {
          ids.push(await w.apply(p, (warning) => warnings.push({ index: p.index, warning })));
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          errors.push({ index: p.index, error: e.message });
          ids.push(null);
        }
      }
      const { recs } = await w.flush();
      return { recs, moved: w.moved, ids: ids.map((c) => (c === null ? null : w.resolve(c))), now };
    },
    async ({ recs, moved, now }) => {
      const erased = new Set(moved.map((m) => m.from));
      for (const m of moved) await ws.engine.removeContact(m.from);
      for (const { rec, d } of recs) await ws.applyContactWrite(rec, d.ch, d.prev === null, now);
      // A contact absorbed and then absorbed again moved its events twice: the last move
      // lists them all.
      await applyMovedEvents(
        ws.engine,
        moved.filter((m) => !erased.has(m.to)),
      );
    },
  );
  for (const p of msgs) {
    for (const w of p.m.traits?.warnings ?? []) warnings.push({ index: p.index, warning: w });
  }
  return { contactIds: result.ids, errors, warnings };
}
