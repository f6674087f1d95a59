/**
 * What an event type may be (SPEC §2): the one pattern every layer checks, and the
 * words its errors use. Data only, so the web app can import it too.
 */
export const EVENT_TYPE = /^[a-z0-9_.:-]{1,64}$/;

export const EVENT_TYPE_EXPECTED = "expected an event type matching [a-z0-9_.:-]{1,64}";

/**
 * Types already seen to match: ingest checks each event's type at three layers, and a
 * workspace has a few dozen types, so a set lookup answers most checks instead of the
 * pattern. Bounded, so that a stream of random types cannot grow it without end.
 */
const SEEN = new Set<string>();
const SEEN_MAX = 4096;

export function isEventType(s: unknown): s is string {
  if (typeof s !== "string") return false;
  if (SEEN.has(s)) return true;
  if (!EVENT_TYPE.test(s)) return false;
  if (SEEN.size < SEEN_MAX) SEEN.add(s);
  return true;
}
