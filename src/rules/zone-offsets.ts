/**
 * Luxon zones whose UTC offsets are remembered per UTC hour.
 *
 * Luxon asks an IANA zone for its offset through `Intl.DateTimeFormat.formatToParts` at
 * every step of its calendar arithmetic (a `fromObject`, a `startOf`, a `plus` ask it
 * several times each), about 10 µs a question; compiling a rule such as
 * `anniversary_during this_year` walks every day of the year that way, and reading a
 * date field asks once per value. The zone rules do not change while the process runs,
 * so the answers are kept.
 *
 * An hour whose first and last seconds have the same offset holds it throughout: the
 * zone rules never change the offset twice within an hour, and Luxon reads the offset
 * per whole second, so those two seconds bound every instant of the hour. An hour with a
 * change asks Luxon again for each instant, so every answer is Luxon's own.
 */
import { IANAZone, Info, type Zone } from "luxon";

const HOUR = 3_600_000;
/** The range of `Date` (and of Luxon's instants). */
const MAX_DATE = 8.64e15;
/** Hours of offsets per cached block (about 68 days). */
const BLOCK = 2048;
/** Blocks held in one array: hours from about 1750 to 2190; others go to Luxon each time. */
const FIRST_BLOCK = -1080;
const BLOCKS = 2160;
/** An hour in which the offset changes: each instant in it asks the zone. */
const MIXED = Number.POSITIVE_INFINITY;

/** An IANA zone answering as Luxon's, with the offsets kept per UTC hour; made for valid zones only. */
class HourlyZone extends IANAZone {
  private readonly blocks: (Float64Array | undefined)[] = new Array(BLOCKS);

  override offset(ts: number): number {
    if (!(ts >= -MAX_DATE && ts <= MAX_DATE)) return super.offset(ts);
    const hour = Math.floor(ts / HOUR);
    const b = Math.floor(hour / BLOCK) - FIRST_BLOCK;
    if (b < 0 || b >= BLOCKS) return super.offset(ts);
    let block = this.blocks[b];
    if (block === undefined) {
      block = new Float64Array(BLOCK).fill(Number.NaN);
      this.blocks[b] = block;
    }
    const i = hour & (BLOCK - 1);
    let off = block[i] as number;
    if (Number.isNaN(off)) {
      const start = hour * HOUR;
      const first = super.offset(start);
      off = first === super.offset(start + HOUR - 1000) ? first : MIXED;
      block[i] = off;
    }
    return off === MIXED ? super.offset(ts) : off;
  }
}

const hourly = new Map<string, HourlyZone>();
/** `luxonZone`'s answers for valid names. */
const luxon = new Map<string, Zone>();

/**
 * Whether `tz` names an IANA zone. Luxon's check builds an `Intl.DateTimeFormat` each
 * time (and every new engine asks), so a valid name's zone is made and kept at once;
 * invalid names are not kept, so that names from input cannot grow the cache.
 */
export function isIanaZone(tz: string): boolean {
  if (hourly.has(tz)) return true;
  if (!IANAZone.isValidZone(tz)) return false;
  hourly.set(tz, new HourlyZone(tz));
  return true;
}

/** `IANAZone.create(tz)`, answering the same offsets from the hourly cache. */
export function ianaZone(tz: string): Zone {
  return isIanaZone(tz) ? (hourly.get(tz) as HourlyZone) : IANAZone.create(tz);
}

/**
 * The zone Luxon makes of `{ zone: tz }` (UTC and fixed offsets as Luxon's own fixed
 * zones), an IANA one answering from the hourly cache.
 */
export function luxonZone(tz: string): Zone {
  let z = luxon.get(tz);
  if (z === undefined) {
    z = Info.normalizeZone(tz);
    if (!z.isValid) return z;
    if (z.type === "iana") z = ianaZone(tz);
    luxon.set(tz, z);
  }
  return z;
}
