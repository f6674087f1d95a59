import type { EventWrite } from "../../src/store/types.ts";

export const CRASH_CONTACTS = 40;
export const BATCH_SIZE = 50;
const TYPES = ["email_opened", "email_clicked", "order_placed", "email_bounced", "email_unsubscribed"];

/** Batch `k`: the same events (ids, contacts, types, amounts) every time it is sent. */
export function crashBatch(k: number, now: number): EventWrite[] {
  const out: EventWrite[] = [];
  for (let i = 0; i < BATCH_SIZE; i++) {
    const h = (k * 7919 + i * 104729) % 1_000_003;
    const type = TYPES[h % TYPES.length];
    out.push({
      id: `e${k}-${i}`,
      type,
      contact_id: `ct_crash_${h % CRASH_CONTACTS}`,
      // Spread over the last two hours so some fall out of the one-hour window while the test runs.
      timestamp: now - (h % 7_200_000),
      properties:
        type === "order_placed"
          ? { amount: (h % 200) + 1 }
          : type === "email_bounced"
            ? { bounce_type: h % 3 === 0 ? "hard" : "soft" }
            : { campaign_id: h % 20 },
    });
  }
  return out;
}
