/**
 * Start-up: loading a workspace's contacts and events from its store into a fresh engine.
 *
 * Where the store reads in bulk off this thread (`Store.startupRead`: a SQLite file,
 * read by worker threads), the store decodes what its readers send (src/store/startup-decode.ts)
 * and this module only connects it to the engine: contacts pages as columns through
 * `Engine.loadContactColumns` (each distinct value of a column checked and interned
 * once per page, no object per contact), event pages as columns through
 * `Engine.loadEvents` (no event object, no JSON parse). It keeps the change log's
 * membership that the readers compute last, for `reconcile`. Elsewhere (PostgreSQL,
 * `:memory:`, or a worker that cannot start) `LiveWorkspace.open` streams pages of
 * records instead.
 */

import { normalize } from "../engine/dictionary.ts";
import type { Engine } from "../engine/engine.ts";
import { EventColumns } from "../engine/events.ts";
import { FieldValueError } from "../engine/index.ts";
import { readInto } from "../store/startup-decode.ts";
import { BulkReadError, type StartupSink } from "../store/startup-read.ts";
import type { Store } from "../store/types.ts";
import type { LoggedMembership } from "./reconcile.ts";

export type Progress = (phase: "contacts" | "events" | "members", rows: number) => void;

/**
 * Loads contacts and events through the store's bulk read, ending with `finishLoad`, or
 * does nothing and answers null when the store has none (or its readers cannot start).
 * Otherwise answers, once contacts and events are loaded, the change log's membership,
 * which the readers go on computing meanwhile (awaiting it waits for them).
 */
export async function loadInBulk(
  store: Store,
  ws: string,
  engine: Engine,
  onProgress?: Progress,
): Promise<{ logged: Promise<LoggedMembership> } | null> {
  const read = store.startupRead?.(ws) ?? null;
  if (!read) return null;
  // Contacts are loaded into an empty engine, so the k-th loaded has index k.
  if (engine.contacts.size !== 0) {
    await read.close();
    throw new Error("start-up read: the engine already holds contacts");
  }
  try {
    return await readInto(read, engineSink(engine, onProgress));
  } catch (e) {
    throw rowError(e);
  }
}

/** A check that failed in a reader, as `Engine.loadEvents` would have thrown it. */
function rowError(e: unknown): unknown {
  return e instanceof BulkReadError && e.path ? new FieldValueError(e.path, e.message) : e;
}

/** The engine as the store's start-up read fills it. */
function engineSink(engine: Engine, onProgress?: Progress): StartupSink {
  let contacts = 0;
  let events = 0;
  return {
    contacts(page) {
      engine.loadContactColumns({ ids: page.ids, columns: page.columns }, page.written);
      contacts += page.count;
      onProgress?.("contacts", contacts);
    },
    eventContact: (id) => engine.contacts.ensure(id),
    contactIndex: (id) => engine.contacts.index(id) ?? -1,
    string: (value) => engine.events.dict.intern(normalize(value)),
    events(page) {
      engine.loadEvents(
        new EventColumns(page.count, page.types, page.type, page.contact, page.time, page.props),
        { finish: false },
      );
      events += page.count;
      onProgress?.("events", events);
    },
    eventsDone: () => engine.finishLoad(),
  };
}
