/** Timing, statistics and progress output for the benchmark. */

const started = performance.now();

/** Progress goes to stderr so that stdout holds only the report (and the JSON line). */
export function log(message: string): void {
  const s = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${s}s] ${message}\n`);
}

/** Passes items through, logging how many went by every `step` items and at the end. */
export function* withProgress<T>(items: Iterable<T>, label: string, total: number): Generator<T> {
  const step = Math.max(100_000, Math.ceil(total / 10));
  const t0 = performance.now();
  let n = 0;
  let next = step;
  for (const item of items) {
    yield item;
    if (++n === next) {
      next += step;
      const rate = n / ((performance.now() - t0) / 1000);
      log(`${label}: ${fmtInt(n)} / ${fmtInt(total)} (${fmtInt(Math.round(rate))}/s)`);
    }
  }
  log(`${label}: ${fmtInt(n)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The nearest-rank percentile (p in 0…100) of a sorted array. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface Timed<T> {
  /** Median wall time of the timed runs, in ms. */
  ms: number;
  samples: number[];
  /** What the last run returned. */
  value: T;
}

/** Runs `fn` `warmup` times untimed, then `runs` times timed; every run must return the same value. */
export async function timeRuns<T>(fn: () => T | Promise<T>, warmup: number, runs: number): Promise<Timed<T>> {
  let value: T | undefined;
  let first = true;
  const check = (v: T) => {
    if (!first && v !== value)
      throw new Error(`a run returned ${String(v)} where an earlier one returned ${String(value)}`);
    first = false;
    value = v;
  };
  for (let i = 0; i < warmup; i++) check(await fn());
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const v = await fn();
    samples.push(performance.now() - t0);
    check(v);
  }
  return { ms: median(samples), samples, value: value as T };
}

export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

export function fmtInt(n: number): string {
  return n.toLocaleString("en-US");
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** A plain text table: the first row is the header; columns after the first are right-aligned. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: readonly string[]) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ");
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)];
}

/** A positive whole-number flag of a bench script (`--name N`), or `fallback` when not given. */
export function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name}: expected a positive whole number`);
  return v;
}
