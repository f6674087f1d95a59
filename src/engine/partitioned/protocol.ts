/**
 * The messages between a partitioned engine's coordinator (partitioned-engine.ts) and
 * its engine workers (engine-worker.ts). Every request carries an `id` and gets exactly
 * one reply with it, in order; `now` is the coordinator's clock, which every worker's
 * engine reads (the clock stays an input, so a test's clock drives every worker).
 */
import type { ComputedDefinition } from "../../rules/computed.ts";
import type { FieldDef } from "../../rules/fields.ts";
import type { RuleNode } from "../../rules/schema.ts";
import type { AnalyticsPart, AnalyticsPartRequest } from "../analytics-part.ts";
import type { ContactFacts, EngineStats } from "../contact-facts.ts";
import type { Override, StoredContact, WriteOptions } from "../engine.ts";
import type { EventTypeInfo } from "../event-types.ts";
import type { SegmentKind } from "../segments.ts";
import type { ContactInput, EngineOptions, ExplainNode, JsonValue } from "../types.ts";
import type { EncodedChanges } from "./change-batch.ts";
import type { EncodedEvents } from "./event-batch.ts";

/** The engine settings a worker's engine is built with: all of `EngineOptions` but the clock. */
export type WorkerEngineOptions = Omit<EngineOptions, "clock">;

/** `rows` of a contacts request: the contacts, or their JSON text. */
export type WorkerRequest = { id: number; now: number } & (
  | { op: "contacts"; rows: string | StoredContact[] }
  | { op: "events"; batch: EncodedEvents }
  /** `tight: false` keeps the event slabs' spare room (a catch-up after a restore). */
  | { op: "finish"; tight: boolean }
  /** Bulk load: these contacts dropped (`contacts`) or only their events (`events`), as a restore's catch-up does. */
  | { op: "forget"; ids: string[]; only: "contacts" | "events" }
  /** Bulk load of a segment's static members and overrides, as `Engine.loadMembers`. */
  | {
      op: "load-members";
      segment: string;
      members: { contact_id: string; action: "added" | "removed"; expires_at?: number | null }[];
    }
  /** A segment defined; the reply carries the changes. */
  | { op: "segment"; def: { id: string; rule: RuleNode | null; kind: SegmentKind } }
  | { op: "segments"; defs: { id: string; rule: RuleNode | null; kind: SegmentKind }[] }
  /**
   * `query`: the ranked query a `rank-values` request left held, evaluated with `cuts`
   * (its rank and quintile conditions' cuts over every worker, by `rankCutKey` and
   * `scoreCutKey`) and let go.
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
   * The values of the rule's rank and quintile conditions' populations computed in this
   * worker and held under `query` (for `rank-candidates` and `evaluate`, or `drop`); the
   * reply's `sizes` tell how many there are, by `relativeKey`.
   */
  | { op: "rank-values"; rule: RuleNode; at: number; query: number }
  /** The held values each of `wants` asks for, in its order (`candidates`). */
  | { op: "rank-candidates"; query: number; wants: RankWant[] }
  /** A held ranked query let go without being evaluated. */
  | { op: "drop"; query: number }
  | { op: "members"; segment: string; ids: boolean }
  /** The segment's members with an id after `after`: the `limit` lowest, in order. */
  | { op: "page"; segment: string; after: string; limit: number }
  /** A contact written, as `Engine.upsertContact` (or `patchContact` with `patch`); the reply carries the changes. */
  | { op: "upsert"; contact: ContactInput; options: WriteOptions; patch: boolean }
  | { op: "remove"; contact: string }
  | { op: "tags"; contact: string; add: string[]; remove: string[] }
  | { op: "explain"; contact: string; rule: RuleNode | string; at: number }
  | { op: "segments-of"; contact: string }
  | { op: "field"; def: FieldDef }
  | { op: "computed-field"; def: FieldDef; computed: ComputedDefinition }
  | { op: "drop-computed-field"; key: string }
  /** The computed fields' values of these contacts at `at` (`Engine.computedReader`), in their order. */
  | { op: "computed-values"; contacts: string[]; at: number }
  | { op: "timers" }
  /** What the engine knows of these contacts (contact-facts.ts), in their order; computed values read at `at`. */
  | { op: "facts"; contacts: string[]; at: number; computed: boolean; segments: boolean }
  /** Ids of the contacts a search text matches (`searchIds`). */
  | { op: "search"; q: string }
  /** The sizes of these segments' maintained memberships, in their order (`counts`). */
  | { op: "sizes"; segments: string[] }
  | { op: "stats" }
  /** Whether contacts hold values under `key` that no field declares (`count` 1 or 0). */
  | { op: "undeclared"; key: string }
  | { op: "event-types" }
  /** This worker's part of a segment's analytics (analytics-part.ts). */
  | { op: "analytics"; req: AnalyticsPartRequest }
  /** Members' ids per value of a text field, for the analytics' labels (`labelSamples`). */
  | { op: "label-samples"; segment: string; field: string; values: string[]; at: number }
  /** The worker's engine written to `path` (snapshot.ts); the reply's `count` is its bytes. */
  | { op: "save"; path: string; layout: WorkerLayout }
  /**
   * The worker's engine, empty, loaded from the file at `path`, written with the same
   * layout; the reply's `count` is its contacts. The file stays open for
   * `restore-maintained`, once the segments are defined again.
   */
  | { op: "restore"; path: string; layout: WorkerLayout }
  /** The file's memberships and timers taken where the segments are unchanged (`count` 1), or left to be rebuilt (0). */
  | { op: "restore-maintained"; touched: string[] }
  | { op: "drop-segment"; segment: string }
  /**
   * `Engine.addMembers` (`add`), `removeMembers` (`remove`) or `liftOverrides` (`lift`)
   * for this worker's share of the contacts; with `check`, only whether it would be
   * taken: refused for a segment that is not editable, else the reply's `ids` are the
   * contacts it does not know, so that a call over several workers is taken by all or
   * by none.
   */
  | {
      op: "override";
      mode: OverrideMode;
      segment: string;
      contacts: string[];
      expiresAt?: number;
      check: boolean;
    }
  | { op: "overrides"; segment: string }
  | { op: "preview-edit"; segment: string; rule: RuleNode }
  | { op: "size" }
  /** Maintained membership moved to `to`; the reply carries the changes. */
  | { op: "advance"; to: number }
  /**
   * Events applied one by one (with `advance`, the clock moved to each event's instant
   * first, as a stream in time order would), then the clock moved to `until`.
   */
  | { op: "ingest"; batch: EncodedEvents; advance: boolean; until: number | null }
);

export type OverrideMode = "add" | "remove" | "lift";

/** Which worker of how many, over how many partitions: a worker's snapshot serves only the same. */
export interface WorkerLayout {
  worker: number;
  workers: number;
  partitions: number;
}

/**
 * Values of one population a worker sends for the cuts: its `count` highest (`top`) or
 * lowest (`bottom`), or all of them.
 */
export interface RankWant {
  key: string;
  side: "top" | "bottom" | "all";
  count: number;
}

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
      sizes?: [string, number][];
      candidates?: Float64Array[];
      explain?: ExplainNode;
      segments?: string[];
      overrides?: Override[];
      values?: Record<string, JsonValue>[];
      facts?: ContactFacts[];
      counts?: number[];
      stats?: EngineStats;
      eventTypes?: EventTypeInfo[];
      analytics?: AnalyticsPart;
      samples?: [string, string[]][];
      entered?: string[];
      exited?: string[];
    }
  | { id: number; ok: false; error: WorkerError };

export interface WorkerData {
  engine: WorkerEngineOptions;
  /** The coordinator's clock when the worker starts. */
  now: number;
}
