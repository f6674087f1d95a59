/**
 * Profile effects (SPEC §2) after a bulk load (start-up) are the ones events given one by
 * one produce: the bulk recompute skips contacts whose only effect events are opens and
 * clicks unless they are soft-bouncing, and must not change any answer by doing so,
 * neither right after the load nor after events that come later.
 */
import { describe, expect, it } from "vitest";
import { type ContactInput, Engine, type EventInput } from "../../src/engine/index.ts";

const DAY = 86_400_000;
const NOW = Date.parse("2026-05-10T12:00:00.000Z");
const ago = (days: number) => NOW - days * DAY;

const CONTACTS: ContactInput[] = [
  { id: "soft_then_open", email_status: "soft_bouncing", status: "subscribed" },
  { id: "soft_no_events", email_status: "soft_bouncing" },
  { id: "deliverable_opens", email_status: "deliverable", status: "subscribed" },
  { id: "no_status_clicks" },
  { id: "bounced_then_open", email_status: "deliverable" },
  { id: "bounced_only", email_status: "deliverable" },
  { id: "hard_then_open", email_status: "deliverable" },
  { id: "unsubscribed_by_event", status: "subscribed" },
  { id: "complained", status: "subscribed", email_status: "deliverable" },
];

const EVENTS: EventInput[] = [
  { type: "email_opened", contact_id: "soft_then_open", timestamp: ago(3) },
  { type: "email_opened", contact_id: "deliverable_opens", timestamp: ago(5) },
  { type: "email_clicked", contact_id: "deliverable_opens", timestamp: ago(4) },
  { type: "email_clicked", contact_id: "no_status_clicks", timestamp: ago(2) },
  { type: "email_bounced", contact_id: "bounced_then_open", timestamp: ago(6) },
  { type: "email_opened", contact_id: "bounced_then_open", timestamp: ago(1) },
  { type: "email_bounced", contact_id: "bounced_only", timestamp: ago(6) },
  { type: "email_opened", contact_id: "bounced_only", timestamp: ago(7) },
  {
    type: "email_bounced",
    contact_id: "hard_then_open",
    timestamp: ago(6),
    properties: { bounce_type: "hard" },
  },
  { type: "email_opened", contact_id: "hard_then_open", timestamp: ago(1) },
  { type: "email_unsubscribed", contact_id: "unsubscribed_by_event", timestamp: ago(2) },
  { type: "email_complained", contact_id: "complained", timestamp: ago(2) },
];

/** Events after the load: a soft bounce, then an open, for contacts the load skipped or not. */
const LATER: EventInput[] = [
  { type: "email_bounced", contact_id: "deliverable_opens", timestamp: NOW - 1000 },
  { type: "email_bounced", contact_id: "no_status_clicks", timestamp: NOW - 1000 },
  { type: "email_opened", contact_id: "no_status_clicks", timestamp: NOW - 500 },
  { type: "email_opened", contact_id: "soft_no_events", timestamp: NOW - 500 },
];

function engine(): Engine {
  return new Engine({ clock: { now: () => NOW }, defaultSegments: false });
}

function profiles(eng: Engine): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of CONTACTS) {
    const i = eng.contacts.index(c.id)!;
    out[c.id] = [eng.contacts.valueOf(i, "status"), eng.contacts.valueOf(i, "email_status")];
  }
  return out;
}

describe("profile effects after a bulk load", () => {
  const bulk = engine();
  bulk.loadContacts(CONTACTS);
  bulk.loadEvents(EVENTS);
  const oneByOne = engine();
  // Loaded profiles without a write time block no effect: as creation defaults.
  for (const c of CONTACTS) oneByOne.upsertContact(c, { defaults: ["status", "email_status"] });
  for (const e of EVENTS) oneByOne.addEvent(e);

  it("are the ones events given one by one produce", () => {
    expect(profiles(bulk)).toEqual(profiles(oneByOne));
    expect(profiles(bulk)).toMatchObject({
      soft_then_open: ["subscribed", "deliverable"],
      soft_no_events: [null, "soft_bouncing"],
      deliverable_opens: ["subscribed", "deliverable"],
      no_status_clicks: [null, null],
      bounced_then_open: [null, "deliverable"],
      bounced_only: [null, "soft_bouncing"],
      hard_then_open: [null, "hard_bounced"],
      unsubscribed_by_event: ["unsubscribed", null],
      complained: ["unsubscribed", "complained"],
    });
  });

  it("stay the same as events go on arriving", () => {
    for (const e of LATER) {
      bulk.addEvent(e);
      oneByOne.addEvent(e);
      expect(profiles(bulk), `after ${e.type} of ${e.contact_id}`).toEqual(profiles(oneByOne));
    }
    expect(profiles(bulk)).toMatchObject({
      deliverable_opens: ["subscribed", "soft_bouncing"],
      no_status_clicks: [null, "deliverable"],
      soft_no_events: [null, "deliverable"],
    });
  });
});
