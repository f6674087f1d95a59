/**
 * Instants as text: `new Date(ms).toISOString()`, several times faster for whole
 * milliseconds in 1970–9999. The engine hands out epoch ms; this is where they become
 * the ISO strings of the wire, the webhook payloads and the change stream, and it is
 * called per change: changes come in runs at one instant (a timer boundary, an event
 * batch) and at nearby ones, so the last instant's text is kept whole, and the text up
 * to the minute is kept from the last call, else built from a civil date (H. Hinnant's
 * algorithm).
 */

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

let lastMs = Number.NaN;
let lastText = "";
/** The minute last formatted, and its text up to the seconds. */
let prefixMinute = Number.NaN;
let prefix = "";

export function isoInstant(ms: number): string {
  if (ms === lastMs) return lastText;
  if (!(Number.isInteger(ms) && ms >= 0 && ms < 253_402_300_800_000)) return new Date(ms).toISOString();
  const minute = Math.floor(ms / 60_000);
  if (minute !== prefixMinute) {
    const days = Math.floor(minute / 1440);
    const hm = minute - days * 1440;
    const z = days + 719_468;
    const era = Math.floor(z / 146_097);
    const doe = z - era * 146_097;
    const yoe = Math.floor(
      (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
    );
    const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    const mp = Math.floor((5 * doy + 2) / 153);
    const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
    const m = mp < 10 ? mp + 3 : mp - 9;
    const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    const h = Math.floor(hm / 60);
    prefix = `${y}-${pad2(m)}-${pad2(d)}T${pad2(h)}:${pad2(hm - h * 60)}:`;
    prefixMinute = minute;
  }
  const rem = ms - minute * 60_000;
  const sec = Math.floor(rem / 1000);
  lastText = `${prefix}${pad2(sec)}.${pad3(rem - sec * 1000)}Z`;
  lastMs = ms;
  return lastText;
}
