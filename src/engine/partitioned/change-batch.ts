/**
 * Membership changes sent back by an engine worker as columns (segment codes, entered
 * flags, instants in typed arrays moved in the transfer list; contact ids as one list),
 * so the coordinator's thread does not rebuild an object per change until asked.
 */
import type { MembershipChange } from "../types.ts";

export interface EncodedChanges {
  count: number;
  segments: string[];
  /** Per change: index into `segments`. */
  segment: Int32Array;
  contacts: string[];
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
  const contacts: string[] = new Array(n);
  const entered = new Uint8Array(n);
  const at = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = changes[i];
    let s = code.get(c.segment_id);
    if (s === undefined) {
      s = segments.length;
      segments.push(c.segment_id);
      code.set(c.segment_id, s);
    }
    segment[i] = s;
    contacts[i] = c.contact_id;
    entered[i] = c.change === "entered" ? 1 : 0;
    at[i] = c.at;
  }
  return {
    batch: { count: n, segments, segment, contacts, entered, at },
    transfer: [segment.buffer, entered.buffer, at.buffer],
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
      for (let i = 0; i < b.count; i++) {
        out.push({
          segment_id: b.segments[b.segment[i]],
          contact_id: b.contacts[i],
          change: b.entered[i] === 1 ? "entered" : "exited",
          at: b.at[i],
        });
      }
    }
    return out;
  }
}
