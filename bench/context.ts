/**
 * What the benchmark's sections share. A section measures one thing, records its
 * figures in `json` (the `--json` object) and prints its part of the report; new
 * measurements (live updates, storage, …) are new sections beside the existing ones.
 */

import type { DatasetSpec } from "../src/demo/generate.ts";
import type { Engine } from "../src/engine/index.ts";
import type { QueryId } from "./queries.ts";

export interface BenchOptions {
  spec: DatasetSpec;
  /** Timed runs per query (the median is reported). */
  runs: number;
  /** Untimed runs before them. */
  warmup: number;
  /** Contacts re-evaluated one by one for Q5. */
  q5Samples: number;
  json: boolean;
  duckdb: boolean;
  /** Run only these sections (with `--only`); null: all. */
  only: string[] | null;
  /** The store section also defines the live section's 100 segments before its restarts. */
  storeLiveSegments: boolean;
  /** Engine worker threads of the workers section. */
  workers: number;
}

export interface QueryFigures {
  rows: number;
  slice_ms: number;
  duckdb_ms: number | null;
  /** The same query on the engine split over `workers` threads (the workers section); null: not run or not supported there. */
  workers_ms?: number | null;
  /** Of `workers_ms`, the slowest worker's time in its engine (median over the runs). */
  workers_engine_ms?: number;
}

export interface BenchContext {
  readonly opts: BenchOptions;
  /** Set by the load section, holding the whole data set. */
  engine: Engine | null;
  /** Per query: the figures for the JSON output and the report. */
  readonly queries: Partial<Record<QueryId, QueryFigures>>;
  /** Per query: the matching contacts (generated contact numbers, ascending), to check DuckDB against. */
  readonly sliceRows: Map<QueryId, Int32Array>;
  /** Wall-clock seconds of each loading phase, by label. */
  readonly loadSeconds: Map<string, number>;
  /** The `--json` object; sections add their keys. */
  readonly json: Record<string, unknown>;
}

export interface Section {
  readonly name: string;
  run(ctx: BenchContext): Promise<void>;
  /** Lines for stdout, asked for once every section has run. */
  report?(ctx: BenchContext): string[];
}
