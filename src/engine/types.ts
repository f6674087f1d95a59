import type { InputBuiltins } from "../contract/fields.ts";
import type { DefaultSegmentSettings } from "../rules/defaults.ts";
import type { FieldDef } from "../rules/fields.ts";

/** The engine never reads the system clock itself: time is an input (ARCHITECTURE). */
export interface Clock {
  now(): number;
}

/** The wall clock, for callers that have no other: the engine itself is always handed one. */
export const systemClock: Clock = { now: () => Date.now() };

/** A value a contact field may hold on input; null or undefined means "not set". */
export type FieldValue = string | number | boolean | string[] | null | undefined;

/**
 * A contact as the engine takes it: the wire form of SPEC §1 (built-in fields at the
 * top level, typed from the built-in table of src/contract/fields.ts; custom fields
 * under `fields`). Dates are ISO strings or epoch ms. Strings that are empty after
 * trimming count as not set.
 */
export interface ContactInput extends InputBuiltins {
  id: string;
  fields?: Record<string, FieldValue>;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface EventInput {
  id?: string;
  type: string;
  contact_id: string;
  /** ISO 8601 or epoch ms. */
  timestamp: string | number;
  properties?: { [key: string]: JsonValue };
}

export interface EngineOptions {
  /** Workspace time zone (IANA name); default UTC. */
  timeZone?: string;
  /** Declared custom fields. */
  fields?: FieldDef[];
  /** Where "now" comes from (`systemClock` for the wall clock; tests pass a fake one). */
  clock: Clock;
  /** Settings of the default segments, or false to leave them out. */
  defaultSegments?: DefaultSegmentSettings | false;
}

/** A set of contacts, e.g. a segment's members at one instant. */
export interface Membership {
  readonly count: number;
  has(contactId: string): boolean;
  /** Contact ids in engine order; the first `limit` only when given (a sample costs what it takes). */
  ids(limit?: number): string[];
}

/**
 * Explain output (SPEC §3.4): the rule node as given, plus `result`; event nodes also
 * carry `measured` (a number, an ISO instant or null) and `needed`; bucket nodes
 * carry `actual`, the contact's bucket for the seed.
 */
export type ExplainNode =
  | { type: "and" | "or"; result: boolean; conditions: ExplainNode[] }
  | { type: "not"; result: boolean; condition: ExplainNode }
  | { type: "field"; field: string; op: string; value?: unknown; result: boolean; actual: unknown }
  | { type: "segment"; op: "in" | "not_in"; segment: string; result: boolean }
  | {
      type: "event";
      event: string;
      where?: unknown;
      window?: unknown;
      measure: { fn: string; property?: string };
      result: boolean;
      measured: number | string | null;
      needed: { op: string; value?: unknown };
    }
  | { type: "bucket"; seed: string; op: string; value?: unknown; result: boolean; actual: number }
  | {
      type: "sequence";
      steps: unknown;
      within: string;
      window?: unknown;
      result: boolean;
      completed_at: string | null;
      /**
       * Sequences with a negative step: when the contact would enter with no new
       * event (a run's deadline), or null; absent for other sequences.
       */
      pending_until?: string | null;
    };

/**
 * A membership change (SPEC §4): `at` is the instant it became true, in epoch ms.
 * Changes come by the thousand on the live path: whoever turns one into text
 * formats the instant (src/service/iso-instant.ts).
 */
export interface MembershipChange {
  segment_id: string;
  contact_id: string;
  change: "entered" | "exited";
  at: number;
}
