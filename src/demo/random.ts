/**
 * Seeded randomness for the data generator. Every stream is a pure function of its
 * seed, so the same data can be generated twice in one run (once for the engine, once
 * for DuckDB) without ever being held in memory.
 */

/** splitmix32: spreads a small integer seed over the 128 bits of state sfc32 needs. */
function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A uniform generator in [0, 1) (sfc32: small, fast, passes PractRand far beyond what we draw). */
export type Rng = () => number;

export function rng(seed: number, stream: number): Rng {
  const init = splitmix32(Math.imul(seed >>> 0, 0x2c1b3c6d) ^ Math.imul(stream, 0x297a2d39));
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  const next: Rng = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  // The first outputs of a freshly seeded sfc32 are correlated with the seed.
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** An integer in [0, n). */
export function int(r: Rng, n: number): number {
  return Math.floor(r() * n);
}

/**
 * Sampling from a fixed discrete distribution given by weights (need not sum to 1):
 * cumulative table plus binary search, for the short lists (countries, event types).
 */
export class Categorical<T> {
  private readonly cumulative: Float64Array;
  constructor(
    private readonly values: readonly T[],
    weights: readonly number[],
  ) {
    if (values.length !== weights.length || values.length === 0) throw new Error("values and weights differ");
    this.cumulative = new Float64Array(weights.length);
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      total += weights[i];
      this.cumulative[i] = total;
    }
    for (let i = 0; i < weights.length; i++) this.cumulative[i] /= total;
  }

  sample(r: Rng): T {
    const u = r();
    const cum = this.cumulative;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (u < cum[mid]) hi = mid;
      else lo = mid + 1;
    }
    return this.values[lo];
  }
}

/** Zipf-like weights 1/k^s for ranks 1…n. */
export function zipfWeights(n: number, s: number): number[] {
  return Array.from({ length: n }, (_, k) => 1 / (k + 1) ** s);
}

/**
 * Walker/Vose alias table: O(1) sampling of an index from up to millions of weights
 * (which contact an event belongs to) with two typed arrays.
 */
export class AliasTable {
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;

  constructor(weights: Float64Array) {
    const n = weights.length;
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) total += weights[i];
    const scaled = new Float64Array(n);
    const small = new Int32Array(n);
    const large = new Int32Array(n);
    let ns = 0;
    let nl = 0;
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i] * n) / total;
      if (scaled[i] < 1) small[ns++] = i;
      else large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
      const s = small[--ns];
      const l = large[--nl];
      this.prob[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      if (scaled[l] < 1) small[ns++] = l;
      else large[nl++] = l;
    }
    // Left-overs are 1 up to rounding error.
    while (nl > 0) this.prob[large[--nl]] = 1;
    while (ns > 0) this.prob[small[--ns]] = 1;
  }

  get size(): number {
    return this.prob.length;
  }

  sample(r: Rng): number {
    // Two draws: one 32-bit draw has too few bits left over to also serve as the coin.
    const i = Math.floor(r() * this.prob.length);
    return r() < this.prob[i] ? i : this.alias[i];
  }
}
