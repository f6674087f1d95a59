/**
 * The worker thread of `bulk-read.ts`: reads one workspace of a SQLite file on its
 * own read-only connection, in one read transaction (one snapshot), and posts it to the
 * main thread as the messages of `startup-read.ts`.
 *
 * Rows are read a range of `seq` numbers at a time, aggregated by SQLite into one row of
 * a few long texts per range (`group_concat`): better-sqlite3's cost per row returned is
 * what dominates a scan of millions of small rows, and one `JSON.parse` of a page's text
 * is much cheaper than one per row. Each aggregate also lists the `seq` numbers, so the
 * order of the rows is checked rather than assumed.
 *
 * One module past 500 lines on purpose: it is a worker's whole entry point, and its
 * scans (contacts, events, change log) are hand-specialised loops sharing the code
 * tables and the snapshot's contact list.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { CONTACT_ROW_COLUMNS } from "../contact-row.ts";
import { compareBytes, IdTable, parseLengths } from "../id-table.ts";
import type {
  ContactColumnMessage,
  ContactsMessage,
  EventsMessage,
  LoggedMessage,
  PropColumnMessage,
  StartupMessage,
} from "../startup-read.ts";
import type { JsonObject, JsonValue } from "../types.ts";

export interface BulkWorkerData {
  file: string;
  ws: string;
  source: number;
  /** [0]: messages the main thread has taken from this worker; [1]: non-zero to stop. */
  control: SharedArrayBuffer;
  /** Messages this worker may be ahead of the consumer. */
  ahead: number;
  contacts: boolean;
  /** This worker reads the ranges `offset, offset + stride, …` of `seq` numbers. */
  events: { offset: number; stride: number } | null;
  changes: boolean;
  /** `seq` numbers per range (events), rows per page (contacts, changes). */
  pageSize: number;
}

/** What the worker posts besides `StartupMessage`s. */
export type WorkerSignal =
  | { kind: "ready" | "snapshot" | "contacts-end" | "events-end" | "logged-end" | "done" }
  | { kind: "error"; message: string; path?: string };

const data = workerData as BulkWorkerData;
const port = parentPort!;
const ctl = new Int32Array(data.control);

/** A row failed a check `Engine.loadEvents` makes; the main thread throws it as a FieldValueError. */
class RowError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

let sent = 0;

/** Posts a message once the consumer is less than `ahead` messages behind; false when told to stop. */
function post(m: StartupMessage | WorkerSignal, transfer: ArrayBuffer[] = []): boolean {
  for (;;) {
    if (Atomics.load(ctl, 1) !== 0) return false;
    const consumed = Atomics.load(ctl, 0);
    if (sent - consumed < data.ahead) break;
    Atomics.wait(ctl, 0, consumed, 100);
  }
  sent++;
  port.postMessage(m, transfer);
  return true;
}

function parseSeqs(text: string | null): number[] {
  return text === null ? [] : (JSON.parse(`[${text}]`) as number[]);
}

/** The order that sorts `seqs` ascending, or null when they already are. */
function seqOrder(seqs: number[]): Int32Array | null {
  let sorted = true;
  for (let i = 1; i < seqs.length; i++) if (seqs[i] <= seqs[i - 1]) sorted = false;
  if (sorted) return null;
  const order = Int32Array.from(seqs.keys());
  order.sort((a, b) => seqs[a] - seqs[b]);
  return order;
}

function permute<T>(values: T[], order: Int32Array | null): T[] {
  return order === null ? values : Array.from(order, (k) => values[k]);
}

/** One JSON array per column of `CONTACT_ROW_COLUMNS`, as `ContactsMessage` carries them. */
const CONTACT_COLUMN_ARRAYS = CONTACT_ROW_COLUMNS.map((c) => `json_group_array(${c})`).join(", ");

/**
 * Contacts in id order, a page as one JSON array per column built by SQLite, each sent as
 * its distinct values and a code per row: the main thread, which loads them, then checks
 * and interns each distinct value once (`ContactTable.loadColumns`), and makes no object
 * per contact.
 */
function readContacts(db: Database.Database): boolean {
  const stmt = db
    .prepare(
      `SELECT count(*), max(id), ${CONTACT_COLUMN_ARRAYS}
       FROM (SELECT * FROM contacts WHERE workspace_id = ? AND id > ? ORDER BY id LIMIT ?)`,
    )
    .raw(true);
  let after = "";
  for (;;) {
    const r = stmt.get(data.ws, after, data.pageSize) as [number, string | null, ...string[]];
    const n = r[0];
    if (n === 0 || r[1] === null) break;
    after = r[1];
    const arrays = r.slice(2) as string[];
    const ids = JSON.parse(arrays[0]) as string[];
    if (ids.length !== n) throw new Error("start-up read: a contacts page's columns differ in length");
    const columns: ContactColumnMessage[] = [];
    const transfer: ArrayBuffer[] = [];
    for (let k = 1; k < arrays.length; k++) {
      const col = encodeColumn(JSON.parse(arrays[k]) as (string | number | null)[], n);
      columns.push(col);
      transfer.push(("numbers" in col ? col.numbers.buffer : col.codes.buffer) as ArrayBuffer);
    }
    const m: ContactsMessage = { kind: "contacts", source: data.source, count: n, ids, columns };
    if (!post(m, transfer)) return false;
    if (n < data.pageSize) break;
  }
  return post({ kind: "contacts-end" });
}

/** A column's values as numbers when they all are (or null), else as distinct values and codes. */
function encodeColumn(values: (string | number | null)[], n: number): ContactColumnMessage {
  if (values.length !== n) throw new Error("start-up read: a contacts page's columns differ in length");
  let numbers = true;
  for (let k = 0; k < n && numbers; k++) numbers = values[k] === null || typeof values[k] === "number";
  if (numbers) {
    const out = new Float64Array(n);
    for (let k = 0; k < n; k++) out[k] = (values[k] as number | null) ?? Number.NaN;
    return { numbers: out };
  }
  const seen = new Map<string | number | null, number>();
  const distinct: (string | number | null)[] = [];
  const codes = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const v = values[k];
    let c = seen.get(v);
    if (c === undefined) {
      c = distinct.length;
      distinct.push(v);
      seen.set(v, c);
    }
    codes[k] = c;
  }
  return { values: distinct, codes };
}

/** Distinct values in order of first appearance; `fresh` collects those new since the last `take`. */
class Codes {
  private readonly map = new Map<string, number>();
  fresh: string[] = [];
  code(v: string): number {
    let c = this.map.get(v);
    if (c === undefined) {
      c = this.map.size;
      this.map.set(v, c);
      this.fresh.push(v);
    }
    return c;
  }
  get size(): number {
    return this.map.size;
  }
  take(): string[] {
    const f = this.fresh;
    this.fresh = [];
    return f;
  }
}

/**
 * The workspace's contacts in id order (the order of `readContacts`' pages, so a
 * contact's position is its engine index when those pages are loaded into an empty
 * engine), and the ids of the contacts that events or the log name but the contacts
 * table lacks, per list (events, log), numbered from `count` on: see `startup-read.ts`.
 */
interface KnownContacts {
  table: IdTable;
  count: number;
  last: string | null;
}

let known: KnownContacts | null = null;

/** Ids in pages of this many while building `known`. */
const ID_PAGE = 100_000;

function knownContacts(db: Database.Database): KnownContacts {
  if (known) return known;
  const stmt = db
    .prepare(
      `SELECT count(*), max(id), CAST(group_concat(id, '') AS BLOB), group_concat(octet_length(id), ',')
       FROM (SELECT id FROM contacts WHERE workspace_id = ? AND id > ? ORDER BY id LIMIT ?)`,
    )
    .raw(true);
  const table = new IdTable(1024);
  let after = "";
  let prev: Uint8Array | null = null;
  for (;;) {
    const r = stmt.get(data.ws, after, ID_PAGE) as [number, string | null, Buffer | null, string | null];
    const n = r[0];
    if (n === 0 || r[1] === null || r[2] === null || r[3] === null) break;
    const bytes = r[2];
    const lengths = parseLengths(r[3], n);
    let s = 0;
    for (let k = 0; k < n; k++) {
      const e = s + lengths[k];
      // Positions stand for engine indices only in the order the contacts are loaded.
      if (prev !== null && compareBytes(prev, 0, prev.length, bytes, s, e) >= 0) {
        throw new Error("start-up read: contact ids are not in increasing order");
      }
      const code = table.add(bytes, s, e, IdTable.hash(bytes, s, e));
      prev = table.bytesOf(code);
      s = e;
    }
    after = r[1];
    if (n < ID_PAGE) break;
  }
  known = { table, count: table.size, last: table.size > 0 ? after : null };
  return known;
}

/** The contact ids of a list (events, or the log) that are not in `known`, numbered after its contacts. */
class OtherContacts {
  private readonly table = new IdTable(1024);
  fresh: string[] = [];
  constructor(private readonly known: KnownContacts) {}

  /** The code of the id at `bytes[start, end)`: its position in `known`, else `known.count` + its own. */
  code(bytes: Buffer, start: number, end: number): number {
    const h = IdTable.hash(bytes, start, end);
    const c = this.known.table.get(bytes, start, end, h);
    if (c >= 0) return c;
    let u = this.table.get(bytes, start, end, h);
    if (u < 0) {
      u = this.table.add(bytes, start, end, h);
      this.fresh.push(bytes.toString("utf8", start, end));
    }
    return this.known.count + u;
  }

  get size(): number {
    return this.known.count + this.table.size;
  }

  take(): string[] {
    const f = this.fresh;
    this.fresh = [];
    return f;
  }
}

/** Where each row's id starts in the concatenated bytes (and, last, where the last ends). */
function offsets(lengths: Int32Array): Int32Array {
  const out = new Int32Array(lengths.length + 1);
  for (let k = 0; k < lengths.length; k++) out[k + 1] = out[k] + lengths[k];
  return out;
}

interface PageProp {
  prop: number;
  num: Float64Array | null;
  str: Int32Array | null;
  otherRows: number[] | null;
  otherValues: JsonValue[] | null;
}

function readEvents(db: Database.Database, offset: number, stride: number): boolean {
  const bounds = db
    .prepare("SELECT min(seq), max(seq) FROM events WHERE workspace_id = ?")
    .raw(true)
    .get(data.ws) as [number | null, number | null];
  if (bounds[0] === null || bounds[1] === null) return post({ kind: "events-end" });
  const base = bounds[0] - 1;
  const last = bounds[1];
  const span = data.pageSize;
  const stmt = db
    .prepare(
      `SELECT count(*), group_concat(seq, ','),
         '[' || group_concat(json_quote(type), ',') || ']',
         CAST(group_concat(contact_id, '') AS BLOB), group_concat(octet_length(contact_id), ','),
         '[' || group_concat(ts, ',') || ']',
         '[' || group_concat(properties, ',') || ']'
       FROM events WHERE workspace_id = ? AND seq > ? AND seq <= ?`,
    )
    .raw(true);
  const types = new Codes();
  const strings = new Codes();
  const kc = knownContacts(db);
  const contacts = new OtherContacts(kc);
  /** Per type code: path → prop code. */
  const propsOfType: Map<string, number>[] = [];
  let propCount = 0;
  let newProps: { type: number; path: string }[] = [];

  for (let range = offset; base + range * span < last; range += stride) {
    const lo = base + range * span;
    const r = stmt.get(data.ws, lo, lo + span) as [
      number,
      string | null,
      string,
      Buffer,
      string,
      string,
      string,
    ];
    const n = r[0];
    if (n === 0) continue;
    const order = seqOrder(parseSeqs(r[1]));
    const typeNames = permute(JSON.parse(r[2]) as unknown[], order);
    const idBytes = r[3];
    const idStarts = offsets(parseLengths(r[4], n));
    const times = permute(JSON.parse(r[5]) as unknown[], order);
    const objs = permute(JSON.parse(r[6]) as unknown[], order);
    const type = new Int32Array(n);
    const contact = new Int32Array(n);
    const time = new Float64Array(n);
    const page: (PageProp | undefined)[] = [];
    const touched: PageProp[] = [];

    const column = (t: number, path: string): PageProp => {
      const paths = propsOfType[t];
      let p = paths.get(path);
      if (p === undefined) {
        p = propCount++;
        paths.set(path, p);
        newProps.push({ type: t, path });
      }
      let pc = page[p];
      if (pc === undefined) {
        pc = { prop: p, num: null, str: null, otherRows: null, otherValues: null };
        page[p] = pc;
        touched.push(pc);
      }
      return pc;
    };
    // As EventTable.writeProps walks them: null and dotted keys are skipped, objects are
    // kept whole and their keys addressed as `path.key` too.
    const walk = (obj: JsonObject, prefix: string, t: number, i: number): void => {
      for (const key of Object.keys(obj)) {
        const v = obj[key];
        if (v === null || v === undefined || key.includes(".")) continue;
        const path = prefix === "" ? key : prefix + key;
        const pc = column(t, path);
        if (typeof v === "number") {
          pc.num ??= new Float64Array(n).fill(Number.NaN);
          pc.num[i] = v;
        } else if (typeof v === "string") {
          pc.str ??= new Int32Array(n).fill(-1);
          pc.str[i] = strings.code(v);
        } else {
          pc.otherRows ??= [];
          pc.otherValues ??= [];
          pc.otherRows.push(i);
          pc.otherValues.push(v);
          if (typeof v === "object" && !Array.isArray(v)) walk(v, `${path}.`, t, i);
        }
      }
    };

    for (let i = 0; i < n; i++) {
      const tn = typeNames[i];
      if (typeof tn !== "string") throw new RowError("event.type", "expected an event type");
      const t = types.code(tn);
      if (t === propsOfType.length) propsOfType.push(new Map());
      type[i] = t;
      const row = order === null ? i : order[i];
      const start = idStarts[row];
      const end = idStarts[row + 1];
      if (end === start) throw new RowError("event.contact_id", "expected a contact id");
      contact[i] = contacts.code(idBytes, start, end);
      const ts = times[i];
      if (typeof ts !== "number" || !Number.isFinite(ts))
        throw new RowError("event.timestamp", "expected a finite epoch ms");
      time[i] = ts;
      const p = objs[i];
      if (typeof p !== "object" || p === null || Array.isArray(p))
        throw new RowError("event.properties", "expected an object");
      walk(p as JsonObject, "", t, i);
    }

    const props: PropColumnMessage[] = [];
    const transfer: ArrayBuffer[] = [type.buffer, contact.buffer, time.buffer];
    for (const pc of touched) {
      const otherRows = pc.otherRows ? Int32Array.from(pc.otherRows) : null;
      props.push({ prop: pc.prop, num: pc.num, str: pc.str, otherRows, otherValues: pc.otherValues });
      if (pc.num) transfer.push(pc.num.buffer as ArrayBuffer);
      if (pc.str) transfer.push(pc.str.buffer as ArrayBuffer);
      if (otherRows) transfer.push(otherRows.buffer as ArrayBuffer);
    }
    const m: EventsMessage = {
      kind: "events",
      source: data.source,
      range,
      count: n,
      newTypes: types.take(),
      known: kc.count,
      lastKnown: kc.last,
      newContacts: contacts.take(),
      newStrings: strings.take(),
      newProps,
      type,
      contact,
      time,
      props,
    };
    newProps = [];
    if (!post(m, transfer)) return false;
  }
  return post({ kind: "events-end" });
}

/** Per segment in the log, the contacts whose last change (by `seq`) is `entered`. */
function readChanges(db: Database.Database): boolean {
  const nextSegment = db
    .prepare(
      "SELECT segment_id FROM changes WHERE workspace_id = ? AND segment_id > ? ORDER BY segment_id LIMIT 1",
    )
    .pluck(true);
  const page = db
    .prepare(
      `SELECT count(*), max(seq), group_concat(seq, ','),
         CAST(group_concat(contact_id, '') AS BLOB), group_concat(octet_length(contact_id), ','),
         group_concat(change = 'entered', '')
       FROM (SELECT seq, contact_id, change FROM changes
             WHERE workspace_id = ? AND segment_id = ? AND seq > ? ORDER BY seq LIMIT ?)`,
    )
    .raw(true);
  const kc = knownContacts(db);
  const contacts = new OtherContacts(kc);
  let segment = "";
  let state = new Uint8Array(1024);
  for (;;) {
    const next = nextSegment.get(data.ws, segment) as string | undefined;
    if (next === undefined) break;
    segment = next;
    state.fill(0);
    let after = -1;
    for (;;) {
      const r = page.get(data.ws, segment, after, data.pageSize) as [
        number,
        number | null,
        string | null,
        Buffer,
        string,
        string,
      ];
      const n = r[0];
      if (n === 0) break;
      after = r[1]!;
      const order = seqOrder(parseSeqs(r[2]));
      const idStarts = offsets(parseLengths(r[4], n));
      const entered = r[5];
      for (let k = 0; k < n; k++) {
        const i = order === null ? k : order[k];
        const c = contacts.code(r[3], idStarts[i], idStarts[i + 1]);
        if (c >= state.length) {
          const next = new Uint8Array(Math.max(c + 1, state.length * 2));
          next.set(state);
          state = next;
        }
        // 1: entered, 2: exited; a later change overwrites.
        state[c] = entered.charCodeAt(i) === 49 ? 1 : 2;
      }
      if (n < data.pageSize) break;
    }
    const members: number[] = [];
    const size = Math.min(state.length, contacts.size);
    for (let c = 0; c < size; c++) if (state[c] === 1) members.push(c);
    const list = Int32Array.from(members);
    const m: LoggedMessage = {
      kind: "logged",
      source: data.source,
      segment,
      known: kc.count,
      lastKnown: kc.last,
      newContacts: contacts.take(),
      members: list,
    };
    if (!post(m, [list.buffer])) return false;
  }
  return post({ kind: "logged-end" });
}

function run(db: Database.Database): void {
  if (data.contacts && !readContacts(db)) return;
  // The log first: it is needed last, but this worker would otherwise start it only after
  // its share of the events, while the main thread is busy with contacts at first.
  if (data.changes && !readChanges(db)) return;
  if (data.events && !readEvents(db, data.events.offset, data.events.stride)) return;
  post({ kind: "done" });
}

let db: Database.Database;
try {
  db = new Database(data.file, { readonly: true, fileMustExist: true });
  db.pragma("busy_timeout = 10000");
  db.pragma("cache_size = -65536");
  port.once("message", () => {
    try {
      db.exec("BEGIN");
      // The first read of a transaction takes its snapshot (WAL); the main thread holds
      // the file's mutex until it is told this happened.
      db.prepare("SELECT count(*) FROM workspaces").get();
      port.postMessage({ kind: "snapshot" } satisfies WorkerSignal);
      run(db);
      db.exec("COMMIT");
    } catch (e) {
      const err = e as Error;
      port.postMessage({
        kind: "error",
        message: err.message,
        ...(e instanceof RowError ? { path: e.path } : {}),
      } satisfies WorkerSignal);
    } finally {
      db.close();
    }
  });
  port.postMessage({ kind: "ready" } satisfies WorkerSignal);
} catch (e) {
  port.postMessage({ kind: "error", message: (e as Error).message } satisfies WorkerSignal);
}
