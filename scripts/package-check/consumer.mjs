// Run by scripts/release.sh in a scratch project where the packed tarball is installed
// with --omit=dev: another project's use of slice/engine and slice/client.
import assert from "node:assert/strict";
import { SliceApiError, SliceClient } from "slice/client";
import { Engine } from "slice/engine";

let now = Date.parse("2026-11-30T12:00:00Z");
const engine = new Engine({ timeZone: "Europe/Paris", fields: [], clock: { now: () => now } });
engine.upsertContact({ id: "c1", email: "ana@example.com", country: "FR", status: "subscribed" });
engine.addEvent({
  type: "order_placed",
  contact_id: "c1",
  timestamp: "2026-11-20T10:00:00Z",
  properties: { amount: 250 },
});
engine.defineSegment({
  id: "big",
  rule: {
    type: "event",
    event: "order_placed",
    window: { in_last: "30d" },
    measure: { fn: "sum", property: "amount" },
    op: "gt",
    value: 200,
  },
});
assert.deepEqual(engine.members("big").ids(), ["c1"]);
now += 40 * 86_400_000;
engine.advanceTo(now);
assert.deepEqual(engine.members("big").ids(), []);

const seen = [];
const client = new SliceClient({
  url: "http://slice.invalid:8080/",
  key: "sk_test",
  fetch: async (url, init) => {
    seen.push([init.method, String(url), init.headers.authorization]);
    return new Response(
      JSON.stringify({ error: { code: "not_found", message: 'segment "seg_x" not found' } }),
      {
        status: 404,
      },
    );
  },
});
await assert.rejects(
  client.segments.get("seg_x"),
  (e) => e instanceof SliceApiError && e.code === "not_found",
);
assert.deepEqual(seen, [["GET", "http://slice.invalid:8080/v1/segments/seg_x", "Bearer sk_test"]]);
console.log("consumer.mjs: slice/engine and slice/client work from an installed package");
