/**
 * Mapping Segment messages to Slice writes (docs/ingest.md), on the sample payloads of
 * the Segment spec: Identify (https://segment.com/docs/connections/spec/identify/),
 * Track (…/spec/track/), Page, Screen, Group, Alias, the common fields' timestamps
 * (…/spec/common/#timestamps) and the e-commerce spec v2 (…/spec/ecommerce/v2/).
 */
import { describe, expect, it } from "vitest";
import { FieldRegistry } from "../../../src/rules/fields.ts";
import { ApiError } from "../../../src/service/errors.ts";
import { correctedTimestamp, eventType, mapMessage } from "../../../src/service/segment/map.ts";
import { snakeCase, traitKey } from "../../../src/service/segment/traits.ts";

const RECEIVED = Date.parse("2026-12-04T12:00:00.000Z");
const registry = new FieldRegistry([
  { key: "plan", type: "string" },
  { key: "logins", type: "number" },
]);
const opts = { root: "batch[0]", receivedAt: RECEIVED, registry, timeZone: "UTC" };

function fails(raw: unknown, message: string): void {
  let err: unknown;
  try {
    mapMessage(raw, opts);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ApiError);
  expect((err as ApiError).message).toBe(message);
}

describe("Segment identify", () => {
  // The complete example of the Identify spec page.
  const sample = {
    anonymousId: "507f191e810c19729de860ea",
    channel: "browser",
    context: { ip: "8.8.8.8", userAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_2)" },
    integrations: { All: false, Mixpanel: true, Salesforce: true },
    messageId: "022bb90c-bbac-11e4-8dfc-aa07a5b093db",
    receivedAt: "2015-02-23T22:28:55.387Z",
    sentAt: "2015-02-23T22:28:55.111Z",
    timestamp: "2015-02-23T22:28:55.111Z",
    traits: {
      name: "Peter Gibbons",
      email: "peter@example.com",
      plan: "premium",
      logins: 5,
      address: { street: "6th St", city: "San Francisco", state: "CA", postalCode: "94103", country: "USA" },
    },
    type: "identify",
    userId: "97980cfea0067",
    version: "1.1",
  };

  it("maps reserved traits to built-in fields and declared ones to custom fields; a bad country is dropped with a warning", () => {
    const m = mapMessage(sample, opts);
    expect(m.userId).toBe("97980cfea0067");
    expect(m.anonymousId).toBe("507f191e810c19729de860ea");
    expect(m.events).toEqual([]);
    expect(m.traits!.changes).toEqual({
      email: "peter@example.com",
      first_name: "Peter",
      last_name: "Gibbons",
      city: "San Francisco",
      region: "CA",
      postal_code: "94103",
      fields: { plan: "premium", logins: 5 },
    });
    expect(m.traits!.warnings).toEqual([
      'batch[0].traits.address.country: expected an ISO 3166-1 alpha-2 code such as "FR", got "USA"; not applied',
    ]);
    expect(m.traits!.undeclared).toEqual([]);
  });

  it("keeps undeclared traits under their snake_case key, checks declared ones, and reads locale and time zone from the context", () => {
    const m = mapMessage(
      {
        type: "identify",
        userId: "u1",
        traits: {
          firstName: "Ada",
          last_name: "Lovelace",
          Email: "ignored-key-case@x.com",
          accountType: "team",
          logins: "many",
          email: " Ada@Example.COM ",
          address: { country: "gb", postal_code: "N1" },
          tags: ["x"],
          nested: { a: 1 },
          createdAt: "2020-01-02T03:04:05Z",
        },
        context: { locale: "en-GB", timezone: "Europe/London" },
      },
      opts,
    );
    expect(m.traits!.changes).toEqual({
      email: "ada@example.com",
      first_name: "Ada",
      last_name: "Lovelace",
      country: "GB",
      postal_code: "N1",
      timezone: "Europe/London",
      language: "en-GB",
      created_at: Date.parse("2020-01-02T03:04:05Z"),
      fields: { account_type: "team" },
    });
    expect(m.traits!.undeclared).toEqual(["account_type"]);
    expect(m.traits!.warnings).toEqual([
      "batch[0].traits.Email: not a usable field key; not applied",
      "batch[0].traits.logins: expected a number; not applied",
      "batch[0].traits.nested: expected a string, number, boolean or list of strings; not applied",
    ]);
  });

  it("refuses an identify call with neither userId nor anonymousId", () => {
    fails({ type: "identify", traits: { email: "a@b.co" } }, "batch[0]: expected a userId or an anonymousId");
    fails(
      { type: "identify", userId: " ", anonymousId: "" },
      "batch[0]: expected a userId or an anonymousId",
    );
  });

  it("refuses a message of an unknown type or with a non-object traits, naming the path", () => {
    fails(
      { type: "launch", userId: "u" },
      "batch[0].type: expected one of identify, track, page, screen, group, alias",
    );
    fails({ type: "identify", userId: "u", traits: [1] }, "batch[0].traits: expected an object");
  });
});

describe("Segment track", () => {
  // The example of the Track spec page.
  const sample = {
    anonymousId: "23adfd82-aa0f-45a7-a756-24f2a7a4c895",
    context: { library: { name: "analytics.js", version: "2.11.1" }, ip: "108.0.78.21" },
    event: "Course Clicked",
    integrations: {},
    messageId: "ajs-f8ca1e4de5024d9430b3928bd8ac6b96",
    properties: { title: "Intro to Analytics" },
    receivedAt: "2015-12-12T19:11:01.266Z",
    sentAt: "2015-12-12T19:11:01.169Z",
    timestamp: "2015-12-12T19:11:01.249Z",
    type: "track",
    userId: "AiUGstSDIg",
    originalTimestamp: "2015-12-12T19:11:01.152Z",
  };

  it("records the event in snake case with its properties, the messageId as its id, and the corrected time", () => {
    const m = mapMessage(sample, opts);
    expect(m.events).toEqual([
      {
        id: "ajs-f8ca1e4de5024d9430b3928bd8ac6b96",
        type: "course_clicked",
        // receivedAt − (sentAt − originalTimestamp): 17 ms before receipt, as Segment computes it.
        timestamp: RECEIVED - 17,
        properties: { title: "Intro to Analytics" },
      },
    ]);
    expect(m.traits).toBeNull();
  });

  it("turns event names into types of SPEC §2's pattern", () => {
    expect(eventType("Order Completed", "e")).toBe("order_completed");
    expect(eventType("  orderCompleted ", "e")).toBe("order_completed");
    expect(eventType("Signed Up (Free Plan)!", "e")).toBe("signed_up_free_plan");
    expect(eventType("Vidéo lancée", "e")).toBe("video_lancee");
    expect(eventType("checkout:step-2", "e")).toBe("checkout:step-2");
    expect(eventType("HTTPRequest Sent", "e")).toBe("http_request_sent");
    expect(() => eventType("!!!", "batch[1].event")).toThrow('batch[1].event: "!!!" gives no event type');
    expect(() => eventType("x".repeat(65), "e")).toThrow("longer than 64 characters");
    expect(snakeCase("accountType", "")).toBe("account_type");
    expect(traitKey("Plan Name")).toBe("plan_name");
    expect(traitKey("1st")).toBeNull();
  });

  it("refuses a track call without an event name", () => {
    fails({ type: "track", userId: "u" }, "batch[0].event: a track call needs an event name");
    fails({ type: "track", userId: "u", event: "  " }, "batch[0].event: a track call needs an event name");
  });

  it("refuses a timestamp that is not an instant, naming it", () => {
    let err: unknown;
    try {
      mapMessage({ type: "track", userId: "u", event: "x", timestamp: "yesterday" }, opts);
    } catch (e) {
      err = e;
    }
    expect((err as ApiError).message).toMatch(/^batch\[0\]\.timestamp: /);
  });
});

describe("clock skew", () => {
  const paths = { root: "", timestamp: "timestamp", sentAt: "sentAt" };
  it("corrects a client clock that is ahead or behind with sentAt", () => {
    // A client 1 hour ahead: it says the event was 5 s before it sent the batch.
    expect(
      correctedTimestamp("2026-12-04T13:00:00.000Z", "2026-12-04T13:00:05.000Z", RECEIVED, paths, "UTC"),
    ).toBe(RECEIVED - 5000);
    expect(
      correctedTimestamp("2026-12-04T10:59:00.000Z", "2026-12-04T11:00:00.000Z", RECEIVED, paths, "UTC"),
    ).toBe(RECEIVED - 60_000);
  });
  it("takes the timestamp as given without sentAt, and the time of receipt without either", () => {
    expect(correctedTimestamp("2026-01-01T00:00:00Z", undefined, RECEIVED, paths, "UTC")).toBe(
      Date.parse("2026-01-01T00:00:00Z"),
    );
    expect(correctedTimestamp(undefined, "2026-12-04T13:00:05.000Z", RECEIVED, paths, "UTC")).toBe(RECEIVED);
  });
  it("names a bad sentAt where it is: the message's or the batch's", () => {
    const msg = { type: "track", userId: "u", event: "x", timestamp: "2026-12-04T08:00:00.000Z" };
    expect(() => mapMessage({ ...msg, sentAt: "soon" }, opts)).toThrow(/^batch\[0\]\.sentAt: /);
    expect(() => mapMessage(msg, { ...opts, sentAt: "soon" })).toThrow(/^sentAt: /);
    expect(() => mapMessage({ ...msg, originalTimestamp: "then" }, opts)).toThrow(
      /^batch\[0\]\.originalTimestamp: /,
    );
  });

  it("uses the batch's sentAt for messages without their own", () => {
    const m = mapMessage(
      { type: "track", userId: "u", event: "x", timestamp: "2026-12-04T08:00:00.000Z" },
      { ...opts, sentAt: "2026-12-04T08:00:02.000Z" },
    );
    expect(m.events[0]!.timestamp).toBe(RECEIVED - 2000);
  });
});

describe("e-commerce spec", () => {
  it("Order Completed also records order_placed with the total as amount, under a derived id", () => {
    // Abridged from the Order Completed example of the e-commerce spec v2.
    const m = mapMessage(
      {
        type: "track",
        userId: "u",
        event: "Order Completed",
        messageId: "m-1",
        properties: {
          checkout_id: "fksdjfsdjfisjf9sdfjsd9f",
          order_id: "50314b8e9bcf000000000000",
          total: 27.5,
          subtotal: 22.5,
          revenue: 25.0,
          currency: "USD",
          products: [{ product_id: "507f1f77bcf86cd799439011", price: 19, quantity: 1 }],
        },
      },
      opts,
    );
    expect(m.events.map((e) => [e.id, e.type])).toEqual([
      ["m-1", "order_completed"],
      ["m-1:order_placed", "order_placed"],
    ]);
    expect(m.events[1]!.properties).toMatchObject({
      amount: 27.5,
      currency: "USD",
      order_id: "50314b8e9bcf000000000000",
    });
    expect(m.events[0]!.properties.amount).toBeUndefined();
  });

  it("Order Completed with only revenue (as a string) uses it; without either, order_placed has no amount", () => {
    const a = mapMessage(
      { type: "track", userId: "u", event: "Order Completed", properties: { revenue: "12.50" } },
      opts,
    );
    expect(a.events[1]!.properties.amount).toBe(12.5);
    expect(a.events[1]!.id).toBeNull();
    const b = mapMessage({ type: "track", userId: "u", event: "Order Completed" }, opts);
    expect(b.events[1]!.type).toBe("order_placed");
    expect(b.events[1]!.properties.amount).toBeUndefined();
  });

  it("Product Added also records cart_added with price × quantity as amount", () => {
    const m = mapMessage(
      {
        type: "track",
        userId: "u",
        event: "Product Added",
        messageId: "m-2",
        properties: {
          cart_id: "skdjsidjsdkdj29j",
          product_id: "507f1f77bcf86cd799439011",
          price: 18.99,
          quantity: 2,
        },
      },
      opts,
    );
    expect(m.events.map((e) => [e.id, e.type])).toEqual([
      ["m-2", "product_added"],
      ["m-2:cart_added", "cart_added"],
    ]);
    expect(m.events[1]!.properties.amount).toBeCloseTo(37.98);
  });
});

describe("page, screen, group, alias", () => {
  it("page → page_viewed with its name, category and url (from the context when the properties lack it)", () => {
    const m = mapMessage(
      {
        type: "page",
        anonymousId: "a1",
        name: "Pricing",
        category: "Docs",
        properties: { title: "Segment Pricing", path: "/pricing" },
        context: { page: { url: "https://segment.com/pricing" } },
      },
      opts,
    );
    expect(m.events).toEqual([
      {
        id: null,
        type: "page_viewed",
        timestamp: RECEIVED,
        properties: {
          title: "Segment Pricing",
          path: "/pricing",
          name: "Pricing",
          category: "Docs",
          url: "https://segment.com/pricing",
        },
      },
    ]);
  });

  it("screen → screen_viewed", () => {
    const m = mapMessage(
      { type: "screen", userId: "u", name: "Home", properties: { Feed: "Popular" } },
      opts,
    );
    expect(m.events[0]).toMatchObject({
      type: "screen_viewed",
      properties: { Feed: "Popular", name: "Home" },
    });
  });

  it("group → a group:<groupId> tag; the group's own traits are not the user's", () => {
    const m = mapMessage(
      {
        type: "group",
        userId: "u",
        groupId: "0e8c78ea9d97a7b8185e8632",
        traits: { name: "Initech", email: "x@initech.com" },
      },
      opts,
    );
    expect(m.tags).toEqual(["group:0e8c78ea9d97a7b8185e8632"]);
    expect(m.traits).toBeNull();
    expect(m.events).toEqual([]);
    fails({ type: "group", userId: "u" }, "batch[0].groupId: a group call needs the groupId");
  });

  it("alias needs previousId and userId", () => {
    const m = mapMessage(
      { type: "alias", previousId: "39239-239239-239239-23923", userId: "507f191e81" },
      opts,
    );
    expect([m.previousId, m.userId]).toEqual(["39239-239239-239239-23923", "507f191e81"]);
    fails({ type: "alias", userId: "u" }, "batch[0].previousId: an alias call needs the previousId");
    fails({ type: "alias", previousId: "p" }, "batch[0].userId: an alias call needs the userId");
  });

  it("user traits in context.traits apply on other calls; numeric ids become strings", () => {
    const m = mapMessage(
      { type: "track", userId: 42, event: "Signed In", context: { traits: { email: "x@y.io" } } },
      opts,
    );
    expect(m.userId).toBe("42");
    expect(m.traits!.changes).toEqual({ email: "x@y.io" });
  });
});
