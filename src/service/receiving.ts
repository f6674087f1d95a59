/**
 * Sending-platform event webhooks (docs/ingest.md): receivers a workspace creates, and
 * what happens when a provider posts to `/hooks/{id}`: verify the provider's signature,
 * map its events to Slice's email events, ingest them, and count the outcome. A request
 * that fails verification changes nothing.
 */
import { z } from "zod";
import type { JsonObject, ReceiverRecord, Store } from "../store/types.ts";
import { ApiError, invalid, notFound } from "./errors.ts";
import { RECEIVERS } from "./receivers/index.ts";
import { MemoryReplayGuard, scopedReplayGuard } from "./receivers/replay-guard.ts";
import {
  type InboundRequest,
  type ParseResult,
  type Provider,
  type ReceiverAdapter,
  ReceiverInputError,
  type ReplayGuard,
} from "./receivers/types.ts";
import type { RecentDelivery, SourceCounters, SourceStats } from "./source-stats.ts";
import { parse } from "./wire.ts";
import type { WorkspaceService } from "./workspace.ts";

/**
 * `config` is only an envelope here: the provider's adapter parses it (its `config`
 * schema, with the generated secrets), so its errors name the provider's own fields.
 */
export const ReceiverInput = z.strictObject({
  provider: z.enum(["sendgrid", "mailgun", "ses", "postmark", "resend"] satisfies Provider[]),
  name: z.string().trim().min(1).max(200).optional(),
  config: z.record(z.string(), z.json()).optional(),
});
export type ReceiverInput = z.infer<typeof ReceiverInput>;

/** A change of name or settings; given settings replace the stored ones key by key (a new signing key). */
export const ReceiverPatch = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  config: z.record(z.string(), z.json()).optional(),
});
export type ReceiverPatch = z.infer<typeof ReceiverPatch>;

const PROVIDER_NAMES: Record<Provider, string> = {
  sendgrid: "SendGrid",
  mailgun: "Mailgun",
  ses: "Amazon SES (SNS)",
  postmark: "Postmark",
  resend: "Resend",
};

export interface WireReceiver {
  id: string;
  provider: string;
  name: string;
  /** Where the provider must post: the URL to paste into its dashboard. */
  url: string;
  /** The settings without their secrets; `secrets_set` names the secret ones given. */
  config: JsonObject;
  secrets_set: string[];
  created_at: string;
  stats: SourceCounters;
  recent: RecentDelivery[];
}

export interface ReceivingOptions {
  store: Store;
  sources: SourceStats;
  clock: { now(): number };
  /** GETs an SNS SubscribeURL once its message is verified (tests point it elsewhere). */
  confirmSubscription?: (url: string) => Promise<void>;
  /** Adapters replacing the default ones (tests: SNS certificates from a local host). */
  adapters?: Partial<Record<Provider, AnyAdapter>>;
}

async function getUrl(url: string): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`confirming the subscription answered ${res.status}`);
}

// biome-ignore lint/suspicious/noExplicitAny: each adapter's config type is its own; the registry is read through its zod schema
export type AnyAdapter = ReceiverAdapter<any>;

export class Receiving {
  private readonly replay: ReplayGuard = new MemoryReplayGuard();

  constructor(private readonly o: ReceivingOptions) {}

  private adapter(provider: string): AnyAdapter {
    const a =
      (this.o.adapters as Record<string, AnyAdapter | undefined> | undefined)?.[provider] ??
      (RECEIVERS as Record<string, AnyAdapter | undefined>)[provider];
    if (!a) throw new Error(`no receiver for provider "${provider}"`);
    return a;
  }

  wire(r: ReceiverRecord, baseUrl: string): WireReceiver {
    const secret = new Set<string>(this.adapter(r.provider).secretKeys);
    const config: JsonObject = {};
    const set: string[] = [];
    for (const [k, v] of Object.entries(r.config)) {
      if (secret.has(k)) set.push(k);
      else config[k] = v;
    }
    return {
      id: r.id,
      provider: r.provider,
      name: r.name,
      url: `${baseUrl}/hooks/${r.id}`,
      config,
      secrets_set: set,
      created_at: new Date(r.created_at).toISOString(),
      stats: this.o.sources.counters(r.workspace_id, r.id),
      recent: this.o.sources.recent(r.workspace_id, r.id),
    };
  }

  async create(
    ws: string,
    input: ReceiverInput,
    baseUrl: string,
  ): Promise<WireReceiver & { secrets?: Record<string, string> }> {
    const adapter = this.adapter(input.provider);
    const given = input.config ?? {};
    const generated = (adapter.generate?.() ?? {}) as Record<string, string>;
    const made: Record<string, string> = {};
    for (const [k, v] of Object.entries(generated)) {
      if (given[k] === undefined) made[k] = v;
    }
    const config = parse(adapter.config as z.ZodType<JsonObject>, { ...made, ...given }, "config");
    const rec = await this.o.store.workspace(ws).receivers.create({
      provider: input.provider,
      name: input.name ?? PROVIDER_NAMES[input.provider],
      config,
    });
    const out: WireReceiver & { secrets?: Record<string, string> } = this.wire(rec, baseUrl);
    if (Object.keys(made).length > 0) {
      const secrets: Record<string, string> = { ...made };
      // Postmark has no signatures: its credentials ride in the URL pasted into it.
      if (typeof config.username === "string" && typeof config.password === "string") {
        const u = new URL(out.url);
        u.username = config.username;
        u.password = config.password;
        secrets.url_with_credentials = u.toString();
      }
      out.secrets = secrets;
    }
    return out;
  }

  async list(ws: string, baseUrl: string): Promise<WireReceiver[]> {
    return (await this.o.store.workspace(ws).receivers.list()).map((r) => this.wire(r, baseUrl));
  }

  async get(ws: string, id: string, baseUrl: string): Promise<WireReceiver> {
    const r = await this.o.store.workspace(ws).receivers.get(id);
    if (!r) throw notFound("receiver", id);
    return this.wire(r, baseUrl);
  }

  async update(ws: string, id: string, input: ReceiverPatch, baseUrl: string): Promise<WireReceiver> {
    const receivers = this.o.store.workspace(ws).receivers;
    const r = await receivers.get(id);
    if (!r) throw notFound("receiver", id);
    const adapter = this.adapter(r.provider);
    const config = parse(
      adapter.config as z.ZodType<JsonObject>,
      { ...r.config, ...(input.config ?? {}) },
      "config",
    );
    const updated = await receivers.update(id, { name: input.name ?? r.name, config });
    if (!updated) throw notFound("receiver", id);
    return this.wire(updated, baseUrl);
  }

  async delete(ws: string, id: string): Promise<void> {
    if (!(await this.o.store.workspace(ws).receivers.delete(id))) throw notFound("receiver", id);
    this.o.sources.forget(ws, id);
  }

  /**
   * A provider's POST to `/hooks/{id}`. Answers the batch result; throws 401 for a
   * request that is not authentic or fresh, 400 for a body that is not the provider's.
   */
  async receive(
    id: string,
    req: InboundRequest,
    workspace: (id: string) => Promise<WorkspaceService>,
  ): Promise<{ accepted: number; duplicates: number; errors: { index: number; error: string }[] }> {
    const r = await this.o.store.findReceiver(id);
    if (!r) throw notFound("receiver", id);
    const adapter = this.adapter(r.provider);
    const guard = scopedReplayGuard(this.replay, r.id);
    const verdict = await adapter.verify(req, r.config, guard);
    if (!verdict.ok) {
      this.o.sources.record(r.workspace_id, r.id, { outcome: "signature_failed", detail: verdict.reason });
      throw new ApiError(
        "unauthorized",
        `${PROVIDER_NAMES[r.provider as Provider]} webhook: ${verdict.reason}`,
      );
    }
    let parsed: ParseResult;
    try {
      parsed = adapter.parse(req, r.config);
    } catch (e) {
      if (!(e instanceof ReceiverInputError)) throw e;
      this.o.sources.record(r.workspace_id, r.id, { outcome: "rejected", rejected: 1, detail: e.message });
      throw invalid("", e.message);
    }
    try {
      return await this.apply(r, parsed, workspace);
    } catch (e) {
      // Nothing was stored: the provider's retry carries the same id and must get through.
      guard.release();
      throw e;
    }
  }

  private async apply(
    r: ReceiverRecord,
    parsed: ParseResult,
    workspace: (id: string) => Promise<WorkspaceService>,
  ): Promise<{ accepted: number; duplicates: number; errors: { index: number; error: string }[] }> {
    if (parsed.confirm) {
      await (this.o.confirmSubscription ?? getUrl)(parsed.confirm.subscribeUrl);
      this.o.sources.record(r.workspace_id, r.id, {
        outcome: "accepted",
        detail: `subscription to ${parsed.confirm.topicArn} confirmed`,
      });
      return { accepted: 0, duplicates: 0, errors: [] };
    }
    const errors = [...parsed.errors];
    let accepted = 0;
    let duplicates = 0;
    if (parsed.events.length > 0) {
      const ws = await workspace(r.workspace_id);
      const result = await ws.ingest(
        parsed.events.map((e) => ({
          id: e.id,
          type: e.type,
          contact: e.contact,
          timestamp: new Date(e.timestamp).toISOString(),
          properties: e.properties,
        })),
      );
      accepted = result.accepted;
      duplicates = result.duplicates;
      errors.push(...result.errors);
    }
    errors.sort((a, b) => a.index - b.index);
    this.o.sources.record(r.workspace_id, r.id, {
      outcome: errors.length > 0 && accepted + duplicates === 0 ? "rejected" : "accepted",
      accepted: accepted + duplicates,
      rejected: errors.length,
      detail: errors.length > 0 ? `${errors.length} item(s) refused: ${errors[0]!.error}` : null,
    });
    return { accepted, duplicates, errors };
  }
}
