/** Command-line flags of `npm run bench`. */

import { availableParallelism } from "node:os";
import { DEFAULT_SPEC } from "../src/demo/generate.ts";
import type { BenchOptions } from "./context.ts";

export const USAGE = `npm run bench -- [flags]
  --contacts N     contacts to generate (default ${DEFAULT_SPEC.contacts})
  --events N       events to generate (default ${DEFAULT_SPEC.events})
  --seed N         generator seed (default ${DEFAULT_SPEC.seed})
  --runs N         timed runs per query, median reported (default 5, at least 3)
  --warmup N       untimed runs before them (default 2, at least 1)
  --q5-samples N   contacts re-evaluated one by one in Q5 (default 100000)
  --no-duckdb      skip the DuckDB comparison
  --workers N      engine worker threads of the workers section (default: one per core,
                   here ${availableParallelism()})
  --only S[,S…]    run only these sections (load, slice, duckdb, workers, live, store,
                   ingest, sync); slice, duckdb and live need load
  --live-segments  the store section also defines the live section's 100 segments (and
                   the date field they read) before its restarts; its first start then
                   writes a change log of millions of rows (minutes)
  --json           print the results as one JSON object on the last line of stdout`;

/** A bad command line: reported with the usage, without a stack trace. */
export class UsageError extends Error {}

function count(flag: string, raw: string | undefined, min: number): number {
  const n = raw === undefined ? Number.NaN : Number(raw.replace(/_/g, ""));
  if (!Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${flag} needs an integer ≥ ${min}, got ${JSON.stringify(raw ?? "")}\n${USAGE}`);
  }
  return n;
}

export function parseArgs(argv: readonly string[]): BenchOptions | "help" {
  const opts: BenchOptions = {
    spec: { ...DEFAULT_SPEC },
    runs: 5,
    warmup: 2,
    q5Samples: 100_000,
    json: false,
    duckdb: true,
    only: null,
    storeLiveSegments: false,
    workers: availableParallelism(),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case "--contacts":
        opts.spec.contacts = count(flag, value(), 0);
        break;
      case "--events":
        opts.spec.events = count(flag, value(), 0);
        break;
      case "--seed":
        opts.spec.seed = count(flag, value(), 0);
        break;
      case "--runs":
        opts.runs = count(flag, value(), 3);
        break;
      case "--warmup":
        opts.warmup = count(flag, value(), 1);
        break;
      case "--q5-samples":
        opts.q5Samples = count(flag, value(), 1);
        break;
      case "--workers":
        opts.workers = count(flag, value(), 1);
        break;
      case "--no-duckdb":
        opts.duckdb = false;
        break;
      case "--only": {
        const names = (value() ?? "").split(",").filter((s) => s !== "");
        const known = ["load", "slice", "duckdb", "workers", "live", "store", "ingest", "sync"];
        const bad = names.find((s) => !known.includes(s));
        if (names.length === 0 || bad !== undefined) {
          throw new UsageError(
            `--only takes sections among ${known.join(", ")}, got ${JSON.stringify(bad ?? "")}\n${USAGE}`,
          );
        }
        if (!names.includes("load") && names.some((s) => s === "slice" || s === "duckdb" || s === "live")) {
          throw new UsageError(`--only: slice, duckdb and live need load (the engine it fills)\n${USAGE}`);
        }
        opts.only = names;
        break;
      }
      case "--json":
        opts.json = true;
        break;
      case "--live-segments":
        opts.storeLiveSegments = true;
        break;
      case "-h":
      case "--help":
        return "help";
      default:
        throw new UsageError(`unknown flag ${JSON.stringify(a)}\n${USAGE}`);
    }
  }
  return opts;
}
