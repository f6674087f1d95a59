/**
 * Membership changes sent back by an engine worker as columns (segment codes, entered
 * flags, instants in typed arrays moved in the transfer list), so the coordinator's
 * thread does not rebuild an object per change until asked.
 *
 * The contact ids go as one string: a structured clone copies an array's strings one by
 * one, about 0.25 µs each (400,000 ids: 76–194 ms to clone as a list, the worker paying
 * to write them and the coordinator to read them), and an event's changes (about four in
 * the bench's live stream) all name its contact, so each run of changes for one contact
 * names it once.
 */
import type { MembershipChange } from "../types.ts";

export interface EncodedChanges {
  count: number;
  segments: string[];
  /** Per change: index into `segments`. */
  segment: Int32Array;
  /** The contact ids of the runs of changes, one after the other; `contactEnd` cuts them apart. */
  contacts: string;
  /** Per run: where its contact id ends in `contacts`. */
  contactEnd: Int32Array;
  /** Per change: the run it belongs to (index into `contactEnd`). */
  contact: Int32Array;
  /** Per change: 1 entered, 0 exited. */
  entered: Uint8Array;
  at: Float64Array;
}

export function encodeChanges(changes: readonly MembershipChange[]): {
  batch: EncodedChanges;
  transfer: ArrayBuffer[];
} {
  const n = changes.length;
  const segments: string[] = [];
  const code = new Map<string, number>();
  const segment = new Int32Array(n);
  const ids: string[] = [];
  const ends: number[] = [];
  let length = 0;
  const contact = new Int32Array(n);
  const entered = new Uint8Array(n);
  const at = new Float64Array(n);
  let last: string | null = null;
  for (let i = 0; i < n; i++) {
    const c = changes[i];
    let s = code.get(c.segment_id);
    if (s === undefined) {
      s = segments.length;
      segments.push(c.segment_id);
      code.set(c.segment_id, s);
    }
    segment[i] = s;
    if (c.contact_id !== last) {
      last = c.contact_id;
      ids.push(last);
      length += last.length;
      ends.push(length);
    }
    contact[i] = ends.length - 1;
    entered[i] = c.change === "entered" ? 1 : 0;
    at[i] = c.at;
  }
  const contactEnd = Int32Array.from(ends);
  return {
    batch: { count: n, segments, segment, contacts: ids.join(""), contactEnd, contact, entered, at },
    transfer: [segment.buffer, contactEnd.buffer, contact.buffer, entered.buffer, at.buffer],
  };
}

/** The changes of several workers' batches: counted at once, made objects on demand. */
export class ChangeSet {
  readonly count: number;

  /** `workerMs`: per request, the time a worker's engine took to apply it, in ms. */
  constructor(
    readonly batches: readonly EncodedChanges[],
    readonly workerMs: readonly number[] = [],
  ) {
    this.count = batches.reduce((n, b) => n + b.count, 0);
  }

  /** Every change, worker by worker, each worker's in the order its engine made them. */
  toArray(): MembershipChange[] {
    const out: MembershipChange[] = [];
    for (const b of this.batches) {
      // A run's changes are consecutive: its id is cut from the string once.
      let run = -1;
      let id = "";
      for (let i = 0; i < b.count; i++) {
        if (b.contact[i] !== run) {
          run = b.contact[i];
          id = b.contacts.slice(run === 0 ? 0 : b.contactEnd[run - 1], b.contactEnd[run]);
        }
        out.push({
          segment_id: b.segments[b.segment[i]],
          contact_id: id,
          change: b.entered[i] === 1 ? "entered" : "exited",
          at: b.at[i],
        });
      }
    }
    return out;
  }
}
