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
 *
 * The messages stay inside the store: startup-decode.ts resolves their codes and hands
 * the pages to a `StartupSink` (below), which the caller passes in and which knows
 * nothing of the protocol.
 */
import type { ContactRecord, JsonValue } from "./types.ts";

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

/** A check failed on a stored row (`path` as in the engine's FieldValueError), or the read itself failed. */
export class BulkReadError extends Error {
  constructor(
    message: string,
    readonly path?: string,
  ) {
    super(message);
    this.name = "BulkReadError";
  }
}

// ---------------------------------------------------------------- the sink

/**
 * Where a start-up read delivers the workspace (startup-decode.ts decodes the messages
 * above into these calls): the engine being rebuilt, as the service connects it. The
 * sink starts empty; the k-th contact of the contacts pages gets index k.
 */
export interface StartupSink {
  /** A page of contacts, in id order. */
  contacts(page: ContactsPage): void;
  /** The index of a contact an event names, created with no fields when unknown (SPEC §2). */
  eventContact(id: string): number;
  /** The index of a contact, or -1 when there is none of that id. */
  contactIndex(id: string): number;
  /** The code of a string property value (as stored) in the sink's dictionary. */
  string(value: string): number;
  /** A page of events in `seq` order: contacts as indices, string values as codes of `string`. */
  events(page: EventsPage): void;
  /** After the last events page; the change log's membership follows later. */
  eventsDone(): void;
}

/** A column of a contacts page: each row's code into distinct values, or numbers (NaN: null). */
export type ContactColumn = { values: readonly unknown[]; codes: Int32Array } | { numbers: Float64Array };

/** The contact keys a contacts page carries values of (`fields`: the custom fields, an object per row). */
export type ContactPageKey = Exclude<
  keyof ContactRecord,
  "id" | "updated_at" | "status_written_at" | "email_status_written_at"
>;

export interface ContactsPage {
  count: number;
  ids: readonly string[];
  /** `tags` and `fields` parsed, instants outside the range repaired; a key left out is not set on any row. */
  columns: Partial<Record<ContactPageKey, ContactColumn>>;
  /** When `status` and `email_status` were last written explicitly (NaN: a default). */
  written: { status?: Float64Array; email_status?: Float64Array };
}

/** One (type, path) of an events page's properties, as the engine's `PropBatch`. */
export interface EventPropColumn {
  /** Index into `EventsPage.types`. */
  type: number;
  path: string;
  num: Float64Array | null;
  str: Int32Array | null;
  other: { rows: Int32Array; values: JsonValue[] } | null;
}

/** Row `i`: an event of type `types[type[i]]` of the contact with index `contact[i]` at `time[i]`. */
export interface EventsPage {
  count: number;
  types: readonly string[];
  type: Int32Array;
  contact: Int32Array;
  time: Float64Array;
  props: readonly EventPropColumn[];
}

/** Per segment, the logged members as sink indices, and the ids of those it has no contact of. */
export type LoggedMembership = Map<string, { indices: Int32Array; unknown: string[] }>;
