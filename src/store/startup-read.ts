/**
 * What a store hands to the start-up rebuild of a workspace when it can read the
 * workspace in bulk (`Store.startupRead`): its contacts, its events as columns and the
 * membership its change log records, all from one snapshot, in this order. A store that
 * cannot (PostgreSQL, SQLite `:memory:`) has no `startupRead`, and the rebuild streams
 * pages of records instead (`streamContacts`, `streamEvents`, `loggedMembers`).
 *
 * Codes: each message names a source (one reader), and codes of contact ids, event types,
 * strings and property paths are positions in that source's own lists of distinct values,
 * in order of first appearance in the source's messages; a message lists the values it is
 * the first of its source to use (`newContacts`, …). So a consumer resolves each distinct
 * value once per source, not once per row.
 *
 * Contact codes are the exception: a code below `known` is the position of the contact
 * among the `known` contacts of the snapshot in id order, that is its engine index once
 * the contacts pages are loaded, in order, into an empty engine (`lastKnown`, the id at
 * `known - 1`, lets the consumer check that); a code `known + k` names the k-th of the
 * source's own list of ids the contacts table lacks (`newContacts`): contacts that only
 * events name (created with no fields, SPEC §2), or erased ones the log still names.
 */
import type { JsonValue } from "./types.ts";

/**
 * One column of a contacts page: the page's distinct values of the column as stored
 * (text, number or null; `tags` and `custom` as their JSON text) and each row's index
 * into them, or, when every value is a number or null, the numbers (NaN: null).
 */
export type ContactColumnMessage =
  | { values: (string | number | null)[]; codes: Int32Array }
  | { numbers: Float64Array };

/**
 * A page of contacts, in id order, as columns: `ids`, then one column per entry of
 * `CONTACT_ROW_COLUMNS` (contact-row.ts) after `id`, in that order.
 */
export interface ContactsMessage {
  kind: "contacts";
  source: number;
  count: number;
  ids: string[];
  columns: ContactColumnMessage[];
}

/**
 * The properties of one (type, path) in an events page, as `EventTable.writeProps` would
 * store them: number (NaN: none), string (-1: none; else a code of the source's strings,
 * as stored, not normalised), or anything else (booleans, arrays, objects) for the rows
 * listed. Nested objects' values come as their own dotted paths as well.
 */
export interface PropColumnMessage {
  /** Code of the source's (type, path) list. */
  prop: number;
  num: Float64Array | null;
  str: Int32Array | null;
  otherRows: Int32Array | null;
  otherValues: JsonValue[] | null;
}

/** A page of events in `seq` order: the rows of one range of `seq` numbers. */
export interface EventsMessage {
  kind: "events";
  source: number;
  /** The range's position; pages come to the consumer in this order. */
  range: number;
  count: number;
  newTypes: string[];
  /** How many contacts the snapshot's contacts table holds, and the last of their ids. */
  known: number;
  lastKnown: string | null;
  /** Ids the contacts table lacks, first used in this page. */
  newContacts: string[];
  newStrings: string[];
  newProps: { type: number; path: string }[];
  /** Per row: type code, contact code, timestamp as stored (epoch ms). */
  type: Int32Array;
  contact: Int32Array;
  time: Float64Array;
  props: PropColumnMessage[];
}

/**
 * The contacts the change log records as members of a segment now (the last change of
 * each, by `seq`, is `entered`), in code order. Codes above `known` are of a list of its
 * own per source (not that of its events): a reader may send these before its events.
 */
export interface LoggedMessage {
  kind: "logged";
  source: number;
  segment: string;
  known: number;
  lastKnown: string | null;
  newContacts: string[];
  members: Int32Array;
}

/** After the last events page (the change log may take a while longer). */
export interface EventsDoneMessage {
  kind: "events-done";
}

export type StartupMessage = ContactsMessage | EventsMessage | EventsDoneMessage | LoggedMessage;

/**
 * The messages of one start-up read: every contacts page, then every events page, then
 * `events-done`, then the logged membership of every segment in the log. Iterate once.
 */
export interface StartupRead extends AsyncIterable<StartupMessage> {
  /** Stops the readers (also when the iteration is still waiting for a message, which then fails). */
  close(): Promise<void>;
}

/** Thrown before the first message when the bulk reader cannot run; the caller reads the usual way. */
export class StartupReadUnavailable extends Error {
  override name = "StartupReadUnavailable";
}
