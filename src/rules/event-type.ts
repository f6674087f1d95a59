/**
 * What an event type may be (SPEC §2): the one pattern every layer checks, and the
 * words its errors use. Data only, so the web app can import it too.
 */
export const EVENT_TYPE = /^[a-z0-9_.:-]{1,64}$/;

export const EVENT_TYPE_EXPECTED = "expected an event type matching [a-z0-9_.:-]{1,64}";

export function isEventType(s: unknown): s is string {
  return typeof s === "string" && EVENT_TYPE.test(s);
}
