/**
 * Fixtures shared by the destination connector tests: a wire contact with plain
 * defaults, and a connector context that keeps what the connector saves.
 */
import { HttpCaller } from "../../src/service/destinations/http-call.ts";
import type { ConnectorContext, SyncContact } from "../../src/service/destinations/types.ts";
import type { JsonObject } from "../../src/store/types.ts";

/**
 * A subscribed, deliverable contact with nothing else known; `email` defaults to
 * `<id>@example.com` (pass `email: null` for a contact without one).
 */
export function syncContact(over: Partial<SyncContact> & { id: string }): SyncContact {
  return {
    external_id: null,
    phone: null,
    first_name: null,
    last_name: null,
    country: null,
    region: null,
    city: null,
    postal_code: null,
    timezone: null,
    language: null,
    status: "subscribed",
    email_status: "deliverable",
    tags: [],
    created_at: "2024-05-01T12:00:00.000Z",
    subscribed_at: null,
    fields: {},
    ...over,
    email: over.email === undefined ? `${over.id}@example.com` : over.email,
  };
}

export interface ContextOptions {
  config: JsonObject;
  secrets: Record<string, string>;
  destinationId?: string;
  /** Default: retries with short waits, so that a test of a throttled answer stays quick. */
  http?: HttpCaller;
  state?: JsonObject;
}

export type TestContext = ConnectorContext & {
  /** A copy of each state passed to `saveState`, in order. */
  saved: JsonObject[];
};

/**
 * Like the syncer's context: `saveState` makes the saved object the context's state.
 * Copies are kept because connectors change their state object in place.
 */
export function connectorContext(opts: ContextOptions): TestContext {
  const ctx: TestContext = {
    destinationId: opts.destinationId ?? "dst_1",
    config: opts.config,
    secrets: opts.secrets,
    http: opts.http ?? new HttpCaller({ policy: { baseMs: 5, capMs: 2000 } }),
    state: opts.state ?? {},
    saved: [],
    async saveState(state: JsonObject) {
      ctx.saved.push(structuredClone(state));
      ctx.state = state;
    },
  };
  return ctx;
}
