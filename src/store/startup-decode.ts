/**
 * The consumer side of the start-up read's protocol (startup-read.ts): resolves each
 * reader's codes (contacts, strings, property paths) once per distinct value and hands
 * the pages to a `StartupSink` as columns, with no object per contact or event and no
 * copy of an events page (its arrays are rewritten in place and passed on).
 */
import { CONTACT_ROW_COLUMNS, clampedInstant, repairedInstant } from "./contact-row.ts";
import {
  type ContactColumn,
  type ContactColumnMessage,
  type ContactPageKey,
  type ContactsMessage,
  type ContactsPage,
  type EventPropColumn,
  type EventsMessage,
  type EventsPage,
  type LoggedMembership,
  type LoggedMessage,
  type StartupMessage,
  type StartupRead,
  StartupReadUnavailable,
  type StartupSink,
} from "./startup-read.ts";

/**
 * Reads `read` into `sink`: every contacts page, every events page, then `eventsDone`.
 * Answers null when the reader cannot run (nothing was delivered: the caller streams
 * pages instead); else, once events are loaded, the change log's membership, which the
 * readers go on computing meanwhile (awaiting it waits for them). The read is closed on
 * failure.
 */
export async function readInto(
  read: StartupRead,
  sink: StartupSink,
): Promise<{ logged: Promise<LoggedMembership> } | null> {
  const it = read[Symbol.asyncIterator]();
  let first: IteratorResult<StartupMessage>;
  try {
    first = await it.next();
  } catch (e) {
    await read.close();
    if (e instanceof StartupReadUnavailable) return null;
    throw e;
  }
  try {
    return await applied(read, it, first, sink);
  } catch (e) {
    await read.close();
    throw e;
  }
}

/**
 * A contacts page as the sink loads it: the stored columns by their keys, the JSON
 * text of `tags` and `custom` (`fields`) parsed once per distinct text, the write times
 * of `status` and `email_status` as numbers.
 */
export function contactsPage(m: ContactsMessage): ContactsPage {
  const columns: ContactsPage["columns"] = {};
  const written: ContactsPage["written"] = {};
  CONTACT_ROW_COLUMNS.forEach((name, k) => {
    if (k === 0) return; // the ids
    const col = m.columns[k - 1];
    if (col === undefined) throw new Error(`start-up read: a contacts page lacks its ${name} column`);
    if (name === "tags" || name === "custom") {
      if ("numbers" in col) {
        if (!col.numbers.every(Number.isNaN)) throw new Error(`start-up read: ${name} is not JSON text`);
      } else {
        const values = col.values.map((v) => (typeof v === "string" ? (JSON.parse(v) as unknown) : v));
        columns[name === "tags" ? "tags" : "fields"] = { values, codes: col.codes };
      }
    } else if (name === "status_written_at" || name === "email_status_written_at") {
      const times = numbersOf(col, m.count, name);
      for (let k = 0; k < times.length; k++) {
        if (!Number.isNaN(times[k]!)) times[k] = repairedInstant(times[k]!) ?? Number.NaN;
      }
      written[name === "status_written_at" ? "status" : "email_status"] = times;
    } else if (name === "created_at" || name === "subscribed_at") {
      columns[name] = repairedInstants(col, name === "created_at");
    } else if (name !== "updated_at") {
      columns[name as ContactPageKey] = col;
    }
  });
  return { count: m.count, ids: m.ids, columns, written };
}

/**
 * An instants column with values outside the range writes take (stored before they
 * were checked) repaired as `contactFromRow` repairs them on every other read: the
 * engine would otherwise hold an instant no answer can print.
 */
function repairedInstants(col: ContactColumnMessage, clamp: boolean): ContactColumn {
  const fix = (v: number) => (clamp ? clampedInstant(v) : repairedInstant(v));
  if ("numbers" in col) {
    for (let k = 0; k < col.numbers.length; k++) {
      const v = col.numbers[k]!;
      if (!Number.isNaN(v)) col.numbers[k] = fix(v) ?? Number.NaN;
    }
    return col;
  }
  // Each distinct value once; the codes stay as they are.
  return { values: col.values.map((v) => (typeof v === "number" ? fix(v) : v)), codes: col.codes };
}

/** A column of numbers (NaN: null), from either form a page gives it in. */
function numbersOf(col: ContactColumnMessage, n: number, name: string): Float64Array {
  if ("numbers" in col) return col.numbers;
  if (col.codes.length !== n) throw new Error(`start-up read: ${name}'s codes do not match its rows`);
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const v = col.values[col.codes[k]];
    if (v === undefined || (v !== null && typeof v !== "number")) {
      throw new Error(`start-up read: ${name} is not a number`);
    }
    out[k] = v ?? Number.NaN;
  }
  return out;
}

/** What the sink holds of the contacts pages: how many, and the last id. */
interface Loaded {
  count: number;
  last: string | null;
}

/** Per reader, what its codes stand for in the sink. */
class Source {
  /** Contact codes below this are sink indices already (see `startup-read.ts`); -1 until checked. */
  known = -1;
  /** Contact code - `known` → sink index (-1: no contact of that id). */
  contacts: Int32Array = new Int32Array(1024);
  contactCount = 0;
  /** Ids of the contact codes (- `known`) without a sink index (logged changes of erased contacts). */
  readonly unknown = new Map<number, string>();
  readonly types: string[] = [];
  /** String code → the sink's code. */
  strings: Int32Array = new Int32Array(1024);
  stringCount = 0;
  readonly props: { type: number; path: string }[] = [];

  /**
   * Takes a message's `known` once its contacts are loaded: the reader's positions are
   * sink indices only if it saw the contacts the sink loaded, in the same order.
   */
  checkKnown(m: { known: number; lastKnown: string | null }, loaded: Loaded): void {
    if (this.known === m.known) return;
    const same = this.known < 0 && m.known === loaded.count && (m.known === 0 || loaded.last === m.lastKnown);
    if (!same) {
      throw new Error(
        `start-up read: a reader saw ${m.known} contacts where ${loaded.count} were loaded ` +
          "(was the file written by another process meanwhile?)",
      );
    }
    this.known = m.known;
  }

  addContacts(ids: string[], index: (id: string) => number): void {
    const need = this.contactCount + ids.length;
    if (need > this.contacts.length) this.contacts = grown(this.contacts, need);
    for (const id of ids) {
      const i = index(id);
      if (i < 0) this.unknown.set(this.contactCount, id);
      this.contacts[this.contactCount++] = i;
    }
  }

  addStrings(values: string[], sink: StartupSink): void {
    const need = this.stringCount + values.length;
    if (need > this.strings.length) this.strings = grown(this.strings, need);
    // In order of first appearance, as the sink would intern them one event at a time.
    for (const v of values) this.strings[this.stringCount++] = sink.string(v);
  }
}

function grown(a: Int32Array, need: number): Int32Array {
  let cap = a.length;
  while (cap < need) cap *= 2;
  const next = new Int32Array(cap);
  next.set(a);
  return next;
}

function source(sources: Source[], k: number): Source {
  while (sources.length <= k) sources.push(new Source());
  return sources[k];
}

async function applied(
  read: StartupRead,
  it: AsyncIterator<StartupMessage>,
  first: IteratorResult<StartupMessage>,
  sink: StartupSink,
): Promise<{ logged: Promise<LoggedMembership> }> {
  const sources: Source[] = [];
  const loaded: Loaded = { count: 0, last: null };
  let r = first;
  for (; !r.done; r = await it.next()) {
    const m = r.value;
    if (m.kind === "contacts") {
      sink.contacts(contactsPage(m));
      loaded.count += m.count;
      if (m.ids.length > 0) loaded.last = m.ids[m.ids.length - 1]!;
    } else if (m.kind === "events") {
      sink.events(eventsPage(sink, source(sources, m.source), m, loaded));
    } else if (m.kind === "events-done") break;
    else throw new Error(`start-up read: unexpected ${m.kind}`);
  }
  sink.eventsDone();
  // The readers go on with the change log while the caller evaluates the segments.
  const logged = (async () => {
    const out = new Map<string, LoggedMessage>();
    for (let r = await it.next(); !r.done; r = await it.next()) {
      const m = r.value;
      if (m.kind !== "logged") throw new Error(`start-up read: unexpected ${m.kind}`);
      out.set(m.segment, m);
    }
    return loggedMembership(sink, [...out.values()], loaded);
  })();
  // Failures surface where the caller awaits it; if it never does (it failed first), the
  // readers are stopped and this must not be an unhandled rejection.
  logged.catch(() => read.close());
  return { logged };
}

/** An events message with its codes made the sink's, in place. */
function eventsPage(sink: StartupSink, src: Source, m: EventsMessage, loaded: Loaded): EventsPage {
  src.checkKnown(m, loaded);
  src.types.push(...m.newTypes);
  // An event for an unknown contact creates it with no fields (SPEC §2), in order of first appearance.
  src.addContacts(m.newContacts, (id) => sink.eventContact(id));
  src.addStrings(m.newStrings, sink);
  src.props.push(...m.newProps);
  const n = m.count;
  const contact = m.contact;
  const lut = src.contacts;
  const known = src.known;
  for (let i = 0; i < n; i++) {
    const c = contact[i];
    if (c >= known) contact[i] = lut[c - known];
  }
  const props: EventPropColumn[] = [];
  for (const p of m.props) {
    const { type, path } = src.props[p.prop];
    const str = p.str;
    if (str) {
      const codes = src.strings;
      for (let i = 0; i < n; i++) if (str[i] >= 0) str[i] = codes[str[i]];
    }
    const other = p.otherRows && p.otherValues ? { rows: p.otherRows, values: p.otherValues } : null;
    props.push({ type, path, num: p.num, str, other });
  }
  return { count: n, types: src.types.slice(), type: m.type, contact, time: m.time, props };
}

/** The logged members of each segment as sink indices, after every event is loaded. */
function loggedMembership(sink: StartupSink, pages: LoggedMessage[], loaded: Loaded): LoggedMembership {
  const out: LoggedMembership = new Map();
  // The change log's other contact codes are a list of their own per source.
  const sources: Source[] = [];
  for (const m of pages) {
    const src = source(sources, m.source);
    src.checkKnown(m, loaded);
    src.addContacts(m.newContacts, (id) => sink.contactIndex(id));
    const known = src.known;
    const indices = new Int32Array(m.members.length);
    const unknown: string[] = [];
    let k = 0;
    for (const code of m.members) {
      const i = code < known ? code : src.contacts[code - known];
      if (i >= 0) indices[k++] = i;
      else unknown.push(src.unknown.get(code - known)!);
    }
    out.set(m.segment, { indices: indices.subarray(0, k), unknown });
  }
  return out;
}
