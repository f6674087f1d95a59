import { StringIndex } from "./string-index.ts";

/** Normalised form of every string the rules compare (SPEC §3.2: case and surrounding spaces ignored). */
export function normalize(s: string): string {
  return s.trim().toLowerCase();
}

/**
 * Interns strings to dense integer codes so columns hold Int32 codes and a string
 * predicate is evaluated once per distinct value rather than once per contact.
 */
export class Dictionary {
  readonly values: string[] = [];
  private readonly codes = new StringIndex();

  /** Code of an already normalised string, adding it if new. */
  intern(s: string): number {
    let c = this.codes.get(s);
    if (c === undefined) {
      c = this.values.length;
      this.values.push(s);
      this.codes.set(s, c);
    }
    return c;
  }

  /** Interns `values` in order, with room made for them first (a restore). */
  internAll(values: readonly string[]): void {
    this.codes.reserve(this.values.length + values.length);
    for (const v of values) this.intern(v);
  }

  /** Code of an already normalised string, or -2 (matches no stored code) when never seen. */
  lookup(s: string): number {
    return this.codes.get(s) ?? -2;
  }

  get size(): number {
    return this.values.length;
  }
}

/**
 * A string predicate memoised per dictionary code: -1 not yet computed, 0 false,
 * 1 true. Grows as the dictionary does, so values interned after compilation still
 * answer correctly.
 */
export class CodeTable {
  private table: Int8Array;
  constructor(
    private readonly dict: Dictionary,
    private readonly pred: (s: string) => boolean,
  ) {
    this.table = new Int8Array(Math.max(16, dict.size)).fill(-1);
  }

  test(code: number): boolean {
    if (code < 0) return false;
    let t = this.table;
    if (code >= t.length) {
      const next = new Int8Array(Math.max(code + 1, t.length * 2)).fill(-1);
      next.set(t);
      this.table = t = next;
    }
    const v = t[code];
    if (v !== -1) return v === 1;
    const r = this.pred(this.dict.values[code]);
    t[code] = r ? 1 : 0;
    return r;
  }

  /** The predicate for every code of the dictionary now, as `lut[code + 1]` (`lut[0]`, missing, is 0). */
  snapshot(): Uint8Array {
    const n = this.dict.size;
    const lut = new Uint8Array(n + 1);
    for (let code = 0; code < n; code++) if (this.test(code)) lut[code + 1] = 1;
    return lut;
  }
}
