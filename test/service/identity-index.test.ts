/**
 * The engine's index of contacts by email and external id (ContactTable.byEmail /
 * byExternalId), which lets the service take events naming their contact so without
 * asking the store. It must answer what the store would: emails compared trimmed and
 * lower-cased, external ids exactly (the rules' column ignores their case, the store
 * does not), only live contacts, after every kind of write and load, whether it was
 * built before the write or after.
 */
import { describe, expect, it } from "vitest";
import type { ContactColumns } from "../../src/engine/contacts.ts";
import { Engine } from "../../src/engine/engine.ts";

const NOW = Date.parse("2026-06-01T00:00:00Z");

function engine(): Engine {
  return new Engine({ timeZone: "UTC", clock: { now: () => NOW }, defaultSegments: false });
}

/** Who the engine says has each key, as contact ids (null: nobody). */
function who(eng: Engine, keys: { email?: string[]; external_id?: string[] }) {
  const id = (i: number | undefined) => (i === undefined ? null : eng.contacts.ids[i]!);
  return {
    email: (keys.email ?? []).map((e) => id(eng.contacts.byEmail(e))),
    external_id: (keys.external_id ?? []).map((x) => id(eng.contacts.byExternalId(x))),
  };
}

/** Runs the scenario twice: with the index built before the writes (kept by them) and after. */
function both(scenario: (eng: Engine, touch: () => void) => void): void {
  for (const early of [true, false]) {
    const eng = engine();
    // A lookup builds the index; done first, the writes must keep it.
    const touch = () => {
      if (early) eng.contacts.byEmail("nobody@x.com");
    };
    scenario(eng, touch);
  }
}

describe("contacts by email and external id", () => {
  it("finds emails case- and space-insensitively and external ids exactly", () => {
    both((eng, touch) => {
      touch();
      eng.upsertContact({ id: "a", email: "Ann@X.com", external_id: "User-1" });
      eng.upsertContact({ id: "b", email: "bob@x.com", external_id: "user-1" });
      eng.upsertContact({ id: "c", external_id: " padded " });
      expect(
        who(eng, {
          email: ["ann@x.com", " ANN@x.COM ", "bob@x.com", "carl@x.com"],
          external_id: ["User-1", "user-1", "USER-1", " padded ", "padded", "User-1 "],
        }),
      ).toEqual({
        email: ["a", "a", "b", null],
        external_id: ["a", "b", null, "c", null, null],
      });
    });
  });

  it("follows a patch of the email or external id, and not a patch of other keys", () => {
    both((eng, touch) => {
      eng.upsertContact({ id: "a", email: "a@x.com", external_id: "A1" });
      touch();
      eng.patchContact({ id: "a", first_name: "Ann" });
      expect(who(eng, { email: ["a@x.com"], external_id: ["A1"] })).toEqual({
        email: ["a"],
        external_id: ["a"],
      });
      eng.patchContact({ id: "a", email: "new@x.com" });
      expect(who(eng, { email: ["a@x.com", "new@x.com"], external_id: ["A1"] })).toEqual({
        email: [null, "a"],
        external_id: ["a"],
      });
      eng.patchContact({ id: "a", external_id: "a1" });
      expect(who(eng, { external_id: ["A1", "a1"] })).toEqual({ email: [], external_id: [null, "a"] });
      eng.patchContact({ id: "a", external_id: "A1" });
      expect(who(eng, { external_id: ["A1", "a1"] })).toEqual({ email: [], external_id: ["a", null] });
      eng.patchContact({ id: "a", email: null, external_id: null });
      expect(who(eng, { email: ["new@x.com"], external_id: ["A1"] })).toEqual({
        email: [null],
        external_id: [null],
      });
    });
  });

  it("follows a full replace that leaves keys out, an email moving to another contact, and erasure", () => {
    both((eng, touch) => {
      eng.upsertContact({ id: "a", email: "a@x.com", external_id: "Ext-A" });
      eng.upsertContact({ id: "b", email: "b@x.com" });
      touch();
      // A replace without the external id clears it.
      eng.upsertContact({ id: "a", email: "a@x.com" });
      expect(who(eng, { external_id: ["Ext-A"] }).external_id).toEqual([null]);
      // b gives its email up and a takes it, in the order a batch may apply them.
      eng.patchContact({ id: "a", email: "b@x.com" });
      eng.patchContact({ id: "b", email: "other@x.com" });
      expect(who(eng, { email: ["a@x.com", "b@x.com", "other@x.com"] }).email).toEqual([null, "a", "b"]);
      eng.removeContact("a");
      expect(who(eng, { email: ["b@x.com"] }).email).toEqual([null]);
      // Created again under the same id: a new profile, with what it is given only.
      eng.upsertContact({ id: "a", external_id: "Ext-A" });
      expect(who(eng, { email: ["b@x.com"], external_id: ["Ext-A"] })).toEqual({
        email: [null],
        external_id: ["a"],
      });
    });
  });

  it("knows the contacts of a load by rows and by columns, external ids as written", () => {
    const byRows = engine();
    byRows.loadContacts([
      { id: "a", email: "a@x.com", external_id: "Mixed-Case" },
      { id: "b", email: "b@x.com", external_id: "lower" },
      { id: "c" },
    ]);
    const byColumns = engine();
    const page: ContactColumns = {
      ids: ["a", "b", "c"],
      columns: {
        email: { values: ["a@x.com", "b@x.com", null], codes: Int32Array.of(0, 1, 2) },
        external_id: { values: ["Mixed-Case", "lower", null], codes: Int32Array.of(0, 1, 2) },
      },
    };
    byColumns.loadContactColumns(page);
    for (const eng of [byRows, byColumns]) {
      expect(
        who(eng, {
          email: ["a@x.com", "b@x.com"],
          external_id: ["Mixed-Case", "mixed-case", "lower", "LOWER"],
        }),
      ).toEqual({ email: ["a", "b"], external_id: ["a", null, "b", null] });
    }
    // A second page over the same contacts (a reload), with the index built: it follows.
    byColumns.loadContactColumns({
      ids: ["a", "b"],
      columns: {
        email: { values: ["b@x.com", "a@x.com"], codes: Int32Array.of(0, 1) },
        external_id: { numbers: Float64Array.of(Number.NaN, Number.NaN) },
      },
    });
    expect(who(byColumns, { email: ["a@x.com", "b@x.com"], external_id: ["Mixed-Case", "lower"] })).toEqual({
      email: ["b", "a"],
      external_id: [null, null],
    });
  });

  it("built a slice at a time: finds the contacts indexed so far and those written since, then every one", () => {
    const eng = engine();
    eng.loadContacts(
      ["a", "b", "c", "d", "e"].map((id) => ({ id, email: `${id}@x.com`, external_id: id.toUpperCase() })),
    );
    expect(eng.contacts.indexKeys(2)).toBe(false);
    eng.patchContact({ id: "d", email: "d2@x.com" });
    eng.upsertContact({ id: "f", email: "f@x.com" });
    eng.removeContact("b");
    const emails = ["a@x.com", "b@x.com", "c@x.com", "d@x.com", "d2@x.com", "e@x.com", "f@x.com"];
    expect(who(eng, { email: emails, external_id: ["A", "C", "E"] })).toEqual({
      email: ["a", null, null, null, "d", null, "f"],
      external_id: ["a", null, null],
    });
    expect(eng.contacts.indexKeys(2)).toBe(false);
    expect(eng.contacts.indexKeys(10)).toBe(true);
    expect(who(eng, { email: emails, external_id: ["A", "C", "E"] })).toEqual({
      email: ["a", null, "c", null, "d", "e", "f"],
      external_id: ["a", "c", "e"],
    });
  });

  it("forgets contacts erased through events' unknown-contact path revived as blank profiles", () => {
    both((eng, touch) => {
      eng.upsertContact({ id: "a", email: "a@x.com", external_id: "X" });
      touch();
      eng.removeContact("a");
      // The library creates an unknown event contact as an empty profile.
      eng.addEvent({ type: "email_opened", contact_id: "a", timestamp: NOW - 1000 });
      expect(eng.contacts.alive.has(eng.contacts.index("a")!)).toBe(true);
      expect(who(eng, { email: ["a@x.com"], external_id: ["X"] })).toEqual({
        email: [null],
        external_id: [null],
      });
    });
  });
});
