/**
 * The event types a workspace has seen, with their property paths and the JSON types
 * their values had (`GET /v1/event-types`): what a rule editor suggests. Read from the
 * engine's event tables, which already keep one column per (type, property path), so the
 * answer costs a pass over the columns, not over the events, except for the few
 * properties holding booleans, arrays or objects, whose kind is read from their values.
 */
import type { Engine } from "./engine.ts";
import type { PropColumn } from "./events.ts";

export type PropertyType = "number" | "string" | "boolean" | "array" | "object";

export interface EventTypeProperty {
  /** Dotted path, as a rule's `where` and measures name it (`items.sku`). */
  name: string;
  /** The kinds of values seen, in this order: number, string, boolean, array, object. */
  types: PropertyType[];
}

export interface EventTypeInfo {
  type: string;
  /** Events of this type held now. */
  count: number;
  properties: EventTypeProperty[];
}

const ORDER: readonly PropertyType[] = ["number", "string", "boolean", "array", "object"];

/** Values read per column to tell booleans, arrays and objects apart. */
const OTHER_SAMPLE = 10_000;

/** Every event type with at least one event, by name, each with its properties by name. */
export function eventTypes(engine: Engine): EventTypeInfo[] {
  // Reading the total lays out events still held in batches (bulk loads).
  if (engine.events.total === 0) return [];
  const out: EventTypeInfo[] = [];
  for (const table of engine.events.tables.values()) {
    if (table.total === 0) continue;
    const properties: EventTypeProperty[] = [];
    for (const [name, col] of table.props) {
      const types = typesOf(col);
      if (types.length > 0) properties.push({ name, types });
    }
    properties.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    out.push({ type: table.type, count: table.total, properties });
  }
  return out.sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}

function typesOf(col: PropColumn): PropertyType[] {
  const seen = new Set<PropertyType>();
  if (col.num !== null) seen.add("number");
  if (col.str !== null) seen.add("string");
  const other = col.other;
  if (other !== null) {
    let read = 0;
    // `some` skips the holes of the sparse array and stops early.
    other.some((v) => {
      if (v === undefined || v === null) return false;
      seen.add(typeof v === "boolean" ? "boolean" : Array.isArray(v) ? "array" : "object");
      return ++read >= OTHER_SAMPLE || seen.size === ORDER.length;
    });
  }
  return ORDER.filter((t) => seen.has(t));
}

/**
 * The event types of several engines holding disjoint contacts (engine workers) as one
 * engine holding them all would answer: counts added, each property's kinds united.
 */
export function mergeEventTypes(parts: readonly EventTypeInfo[][]): EventTypeInfo[] {
  const byType = new Map<string, { count: number; props: Map<string, Set<PropertyType>> }>();
  for (const part of parts) {
    for (const t of part) {
      let m = byType.get(t.type);
      if (!m) {
        m = { count: 0, props: new Map() };
        byType.set(t.type, m);
      }
      m.count += t.count;
      for (const p of t.properties) {
        let kinds = m.props.get(p.name);
        if (!kinds) {
          kinds = new Set();
          m.props.set(p.name, kinds);
        }
        for (const k of p.types) kinds.add(k);
      }
    }
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...byType]
    .map(([type, m]) => ({
      type,
      count: m.count,
      properties: [...m.props]
        .map(([name, kinds]) => ({ name, types: ORDER.filter((k) => kinds.has(k)) }))
        .sort((a, b) => cmp(a.name, b.name)),
    }))
    .sort((a, b) => cmp(a.type, b.type));
}
