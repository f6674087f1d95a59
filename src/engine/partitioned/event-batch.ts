/**
 * Events shipped to an engine worker as columns, not as objects: one batch is a few typed
 * arrays passed in `postMessage`'s transfer list (moved, not copied) and three short lists
 * of the batch's distinct values (types, contact ids, strings), so no object is
 * structured-cloned per event. The worker turns the batch's own codes into its engine's
 * (`loadEncoded`), as the start-up read does for the SQLite readers' pages
 * (src/store/startup-decode.ts).
 */
import { Dictionary, normalize } from "../dictionary.ts";
import type { Engine } from "../engine.ts";
import { EventColumns, type PropBatch } from "../events.ts";
import type { EventInput, JsonValue } from "../types.ts";

/** One (type, path) of a batch's properties, as `EventTable.writeProps` would store them. */
export interface EncodedProp {
  /** Index into `EncodedEvents.types`. */
  type: number;
  path: string;
  /** Per row: the number, NaN when the row has none. */
  num: Float64Array | null;
  /** Per row: index into `EncodedEvents.strings` (as given, not normalised), -1 when none. */
  str: Int32Array | null;
  /** Rows holding anything else (booleans, arrays, objects), with their values. */
  otherRows: Int32Array | null;
  otherValues: JsonValue[] | null;
}

/** Row `i`: an event of type `types[type[i]]` of contact `contacts[contact[i]]` at `time[i]`. */
export interface EncodedEvents {
  count: number;
  types: string[];
  type: Int32Array;
  contacts: string[];
  contact: Int32Array;
  time: Float64Array;
  strings: string[];
  props: EncodedProp[];
}

interface PropBuilder {
  type: number;
  path: string;
  num: Float64Array | null;
  str: Int32Array | null;
  otherRows: number[] | null;
  otherValues: JsonValue[] | null;
}

const INITIAL_ROOM = 256;

/**
 * Builds one batch of up to `capacity` events that were already checked (`checkEvent`).
 * Its arrays start small and double: a live batch holds a few hundred events, and
 * allocating (and filling) arrays for a bulk load's 65,536 each time cost 20 µs per
 * event.
 */
export class EventBatchEncoder {
  // The batch's own codes of its distinct values, as given (the worker normalises strings).
  private types = new Dictionary();
  private contacts = new Dictionary();
  private strings = new Dictionary();
  private props = new Map<string, PropBuilder>();
  private type: Int32Array;
  private contact: Int32Array;
  private time: Float64Array;
  private n = 0;

  private room: number;

  constructor(readonly capacity: number) {
    this.room = Math.min(capacity, INITIAL_ROOM);
    this.type = new Int32Array(this.room);
    this.contact = new Int32Array(this.room);
    this.time = new Float64Array(this.room);
  }

  /** Doubles the arrays, the properties' too (up to `capacity`). */
  private grow(): void {
    const room = Math.min(this.capacity, this.room * 2);
    const wider = <T extends Int32Array | Float64Array>(a: T, fill?: number): T => {
      const b = (a instanceof Int32Array ? new Int32Array(room) : new Float64Array(room)) as T;
      b.set(a);
      if (fill !== undefined) b.fill(fill, this.room);
      return b;
    };
    this.type = wider(this.type);
    this.contact = wider(this.contact);
    this.time = wider(this.time);
    for (const p of this.props.values()) {
      if (p.num) p.num = wider(p.num, Number.NaN);
      if (p.str) p.str = wider(p.str, -1);
    }
    this.room = room;
  }

  get size(): number {
    return this.n;
  }

  get full(): boolean {
    return this.n === this.capacity;
  }

  /** Adds an event at instant `t` (epoch ms, as `checkEvent` answered it). */
  add(e: EventInput, t: number): void {
    if (this.n === this.capacity) throw new Error("event batch: full");
    if (this.n === this.room) this.grow();
    const i = this.n++;
    const type = this.types.intern(e.type);
    this.type[i] = type;
    this.contact[i] = this.contacts.intern(e.contact_id);
    this.time[i] = t;
    if (e.properties) this.walk(e.properties, "", type, i);
  }

  // As EventTable.writeProps walks them: null and dotted keys are skipped, objects are
  // kept whole and their keys addressed as `path.key` too.
  private walk(obj: { [key: string]: JsonValue }, prefix: string, type: number, i: number): void {
    for (const key of Object.keys(obj)) {
      const v = obj[key];
      if (v === null || v === undefined || key.includes(".")) continue;
      const path = prefix + key;
      const p = this.prop(type, path);
      if (typeof v === "number") {
        p.num ??= new Float64Array(this.room).fill(Number.NaN);
        p.num[i] = v;
      } else if (typeof v === "string") {
        p.str ??= new Int32Array(this.room).fill(-1);
        p.str[i] = this.strings.intern(v);
      } else {
        p.otherRows ??= [];
        p.otherValues ??= [];
        p.otherRows.push(i);
        p.otherValues.push(v);
        if (typeof v === "object" && !Array.isArray(v)) this.walk(v, `${path}.`, type, i);
      }
    }
  }

  private prop(type: number, path: string): PropBuilder {
    const key = `${type}\u0000${path}`;
    let p = this.props.get(key);
    if (!p) {
      p = { type, path, num: null, str: null, otherRows: null, otherValues: null };
      this.props.set(key, p);
    }
    return p;
  }

  /** The batch and the buffers to transfer with it; the encoder starts a new batch. */
  take(): { batch: EncodedEvents; transfer: ArrayBuffer[] } {
    const n = this.n;
    const cut = <T extends Int32Array | Float64Array>(a: T): T => (n === a.length ? a : (a.slice(0, n) as T));
    const props: EncodedProp[] = [];
    const transfer: ArrayBuffer[] = [];
    for (const p of this.props.values()) {
      const prop: EncodedProp = {
        type: p.type,
        path: p.path,
        num: p.num ? cut(p.num) : null,
        str: p.str ? cut(p.str) : null,
        otherRows: p.otherRows ? Int32Array.from(p.otherRows) : null,
        otherValues: p.otherValues,
      };
      for (const a of [prop.num, prop.str, prop.otherRows]) if (a) transfer.push(a.buffer as ArrayBuffer);
      props.push(prop);
    }
    const batch: EncodedEvents = {
      count: n,
      types: this.types.values,
      type: cut(this.type),
      contacts: this.contacts.values,
      contact: cut(this.contact),
      time: cut(this.time),
      strings: this.strings.values,
      props,
    };
    transfer.push(
      batch.type.buffer as ArrayBuffer,
      batch.contact.buffer as ArrayBuffer,
      batch.time.buffer as ArrayBuffer,
    );
    this.types = new Dictionary();
    this.contacts = new Dictionary();
    this.strings = new Dictionary();
    this.props = new Map();
    this.room = Math.min(this.capacity, INITIAL_ROOM);
    this.type = new Int32Array(this.room);
    this.contact = new Int32Array(this.room);
    this.time = new Float64Array(this.room);
    this.n = 0;
    return { batch, transfer };
  }
}

/**
 * Loads a batch into `engine` as part of a bulk load (`finishLoad` ends it): the same as
 * `loadEvents` of its events one by one. Contacts it names that the engine lacks are
 * created with no fields (SPEC §2).
 */
export function loadEncoded(engine: Engine, b: EncodedEvents): void {
  const index = b.contacts.map((id) => engine.contacts.ensure(id));
  const contact = b.contact;
  for (let i = 0; i < b.count; i++) contact[i] = index[contact[i]];
  const codes = b.strings.map((s) => engine.events.dict.intern(normalize(s)));
  const props: PropBatch[] = b.props.map((p) => {
    const str = p.str;
    if (str) for (let i = 0; i < b.count; i++) if (str[i] >= 0) str[i] = codes[str[i]];
    const other = p.otherRows && p.otherValues ? { rows: p.otherRows, values: p.otherValues } : null;
    return { type: p.type, path: p.path, num: p.num, str, other };
  });
  engine.loadEvents(new EventColumns(b.count, b.types, b.type, contact, b.time, props), { finish: false });
}

/**
 * A batch's events as objects again, for a worker's live path (`Engine.addEvent`, which
 * computes membership changes): each event's properties are its top-level paths (nested
 * objects travel whole among the other values). Ids are left out: the coordinator
 * skipped repeated ones before routing.
 */
export function eventsOf(b: EncodedEvents): EventInput[] {
  const props: ({ [key: string]: JsonValue } | undefined)[] = new Array(b.count);
  const set = (i: number, key: string, v: JsonValue) => {
    let o = props[i];
    if (o === undefined) {
      o = {};
      props[i] = o;
    }
    o[key] = v;
  };
  for (const p of b.props) {
    if (p.path.includes(".")) continue;
    const { num, str, otherRows, otherValues } = p;
    if (num) for (let i = 0; i < b.count; i++) if (!Number.isNaN(num[i])) set(i, p.path, num[i]);
    if (str) for (let i = 0; i < b.count; i++) if (str[i] >= 0) set(i, p.path, b.strings[str[i]]);
    if (otherRows && otherValues)
      for (let k = 0; k < otherRows.length; k++) set(otherRows[k], p.path, otherValues[k]);
  }
  const out: EventInput[] = new Array(b.count);
  for (let i = 0; i < b.count; i++) {
    const e: EventInput = {
      type: b.types[b.type[i]],
      contact_id: b.contacts[b.contact[i]],
      timestamp: b.time[i],
    };
    const p = props[i];
    if (p !== undefined) e.properties = p;
    out[i] = e;
  }
  return out;
}
