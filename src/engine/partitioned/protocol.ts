/**
 * The messages between a partitioned engine's coordinator (partitioned-engine.ts) and
 * its engine workers (engine-worker.ts). Every request carries an `id` and gets exactly
 * one reply with it, in order; `now` is the coordinator's clock, which every worker's
 * engine reads (the clock stays an input, so a test's clock drives every worker).
 */
import type { RuleNode } from "../../rules/schema.ts";
import type { StoredContact } from "../engine.ts";
import type { SegmentKind } from "../segments.ts";
import type { EngineOptions } from "../types.ts";
import type { EncodedChanges } from "./change-batch.ts";
import type { EncodedEvents } from "./event-batch.ts";

/** The engine settings a worker's engine is built with: all of `EngineOptions` but the clock. */
export type WorkerEngineOptions = Omit<EngineOptions, "clock">;

/** `rows` of a contacts request: the contacts, or their JSON text. */
export type WorkerRequest = { id: number; now: number } & (
  | { op: "contacts"; rows: string | StoredContact[] }
  | { op: "events"; batch: EncodedEvents }
  | { op: "finish" }
  | { op: "segment"; def: { id: string; rule: RuleNode; kind: SegmentKind } }
  | { op: "segments"; defs: { id: string; rule: RuleNode | null; kind: SegmentKind }[] }
  /**
   * `query`: the ranked query a `populations` request left held, evaluated with `cuts`
   * (its rank conditions' cuts over every worker, by `rankCutKey`) and let go.
   */
  | {
      op: "evaluate";
      rule: RuleNode | string;
      at: number;
      ids: boolean;
      query?: number;
      cuts?: [string, number][];
    }
  /**
   * The values of the rule's rank conditions' populations in this worker, by
   * `relativeKey`; the query stays held under `query` for its `evaluate` (or `drop`).
   */
  | { op: "populations"; rule: RuleNode; at: number; query: number }
  /** A held ranked query let go without being evaluated. */
  | { op: "drop"; query: number }
  | { op: "members"; segment: string; ids: boolean }
  | { op: "size" }
  /** Maintained membership moved to `to`; the reply carries the changes. */
  | { op: "advance"; to: number }
  /**
   * Events applied one by one (with `advance`, the clock moved to each event's instant
   * first, as a stream in time order would), then the clock moved to `until`.
   */
  | { op: "ingest"; batch: EncodedEvents; advance: boolean; until: number | null }
);

/** An error as the worker's engine threw it: its name, message and, for a field, the path. */
export interface WorkerError {
  name: string;
  message: string;
  path?: string;
}

export type WorkerReply =
  /** `ms`: the time the worker's engine took, in ms. */
  | {
      id: number;
      ok: true;
      count?: number;
      ids?: string[];
      ms?: number;
      changes?: EncodedChanges;
      populations?: [string, Float64Array][];
    }
  | { id: number; ok: false; error: WorkerError };

export interface WorkerData {
  engine: WorkerEngineOptions;
  /** The coordinator's clock when the worker starts. */
  now: number;
}
