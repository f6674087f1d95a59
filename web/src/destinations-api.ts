/**
 * The typed client of destinations (`/v1/destinations`): a segment kept in sync with a
 * provider's audience, its runs and their per-contact outcomes, pause / resume and dry
 * run. Also what each kind's configuration asks for, so the form can be drawn from it.
 */
import { call, queryString } from "./api.ts";

export const KINDS = ["http", "mailchimp", "brevo", "kit", "meta", "google"] as const;
export type Kind = (typeof KINDS)[number];

export type DestinationState = "live" | "initial_sync" | "paused" | "failing";

export interface Destination {
  id: string;
  name: string;
  kind: Kind;
  segment_id: string;
  /** Non-secret settings; credentials are never read back. */
  config: Record<string, unknown>;
  state: DestinationState;
  last_sync_at: string | null;
  pending: { adds: number; removes: number };
  /** Age of the oldest change not sent yet, in seconds. */
  sync_lag_s: number;
  remote_size: number;
  last_error: string | null;
  next_attempt_at: string | null;
  counters: {
    added: number;
    removed: number;
    failed: number;
    skipped: number;
    /** Figures the provider reported on its last calls (Meta: received, matched, invalid). */
    provider?: Record<string, number>;
  };
  created_at: string | null;
  updated_at: string | null;
}

/** A new http destination whose signing secret Slice made: `secret` is shown once. */
export interface CreatedDestination extends Destination {
  secret?: string;
}

export type RunKind = "full" | "incremental" | "dry_run";
export type RunState = "running" | "succeeded" | "partial" | "failed";

export interface Run {
  id: string;
  destination_id: string;
  kind: RunKind;
  state: RunState;
  /** Opaque change-log positions. */
  from_seq: string | null;
  to_seq: string | null;
  added: number;
  removed: number;
  failed: number;
  skipped: number;
  stats: Record<string, unknown>;
  error: string | null;
  started_at: string | null;
  finished_at: string | null;
}

export type OutcomeStatus = "ok" | "failed" | "skipped";

export interface Outcome {
  contact_id: string;
  op: "add" | "remove";
  status: OutcomeStatus;
  error: string | null;
  at: string | null;
}

export interface PlannedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  rows: number;
}

export interface DryRun {
  run_id: string;
  would_add: number;
  would_remove: number;
  requests: PlannedRequest[];
}

export interface NewDestination {
  name: string;
  kind: Kind;
  segment_id: string;
  config: Record<string, unknown>;
  paused?: boolean;
}

interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

const at = (id: string) => encodeURIComponent(id);
const qs = queryString;

export const destinationsApi = {
  list: () => call<Page<Destination>>("GET", "/v1/destinations").then((p) => p.data),
  get: (id: string) => call<Destination>("GET", `/v1/destinations/${at(id)}`),
  create: (d: NewDestination) => call<CreatedDestination>("POST", "/v1/destinations", d),
  delete: (id: string) => call<null>("DELETE", `/v1/destinations/${at(id)}`),
  pause: (id: string) => call<Destination>("POST", `/v1/destinations/${at(id)}/pause`),
  resume: (id: string) => call<Destination>("POST", `/v1/destinations/${at(id)}/resume`),
  dryRun: (id: string) => call<DryRun>("POST", `/v1/destinations/${at(id)}/dry-run`),
  runs: (id: string, cursor?: string, limit = 20) =>
    call<Page<Run>>("GET", `/v1/destinations/${at(id)}/runs${qs({ cursor, limit })}`),
  run: (id: string, run: string) => call<Run>("GET", `/v1/destinations/${at(id)}/runs/${at(run)}`),
  outcomes: (id: string, run: string, o: { cursor?: string; status?: OutcomeStatus; limit?: number } = {}) =>
    call<Page<Outcome>>(
      "GET",
      `/v1/destinations/${at(id)}/runs/${at(run)}/outcomes${qs({ limit: 50, ...o })}`,
    ),
};

// ---------------------------------------------------------------- the form's fields

/** One configuration setting; `number` ones are sent as JSON numbers when they are digits. */
export interface ConfigInput {
  key: string;
  label: string;
  type: "text" | "secret" | "number" | "boolean";
  required?: boolean;
  placeholder?: string;
  help?: string;
}

/** Settings given one way or another (an API key or an OAuth token…): only the picked option is sent. */
export interface ConfigChoice {
  choice: string;
  label: string;
  options: { value: string; label: string; inputs: ConfigInput[] }[];
}

export type ConfigPart = ConfigInput | ConfigChoice;

export const isChoice = (p: ConfigPart): p is ConfigChoice => "choice" in p;

const INCLUDE_SUPPRESSED: ConfigInput = {
  key: "include_suppressed",
  label: "Include unsubscribed and bounced contacts",
  type: "boolean",
  help: "Ad audiences are not mailing: by default only contacts who may be contacted are sent. Tick to send every member of the segment (for exclusion audiences, say).",
};

const API_URL: ConfigInput = {
  key: "api_url",
  label: "API base URL (optional)",
  type: "text",
  placeholder: "the provider's own",
  help: "Only to go through a proxy: leave empty to call the provider directly.",
};

export const KIND_INFO: Record<Kind, { label: string; about: string; parts: ConfigPart[] }> = {
  http: {
    label: "HTTP (webhook)",
    about:
      "Slice POSTs {destination_id, contacts} to your add and remove URLs, signed the Standard Webhooks way.",
    parts: [
      {
        key: "add_url",
        label: "Add URL",
        type: "text",
        required: true,
        placeholder: "https://example.com/slice/add",
      },
      {
        key: "remove_url",
        label: "Remove URL",
        type: "text",
        required: true,
        placeholder: "https://example.com/slice/remove",
      },
      {
        key: "secret",
        label: "Signing secret (optional)",
        type: "secret",
        placeholder: "whsec_…",
        help: "Leave empty and Slice makes one, shown once after creating.",
      },
    ],
  },
  mailchimp: {
    label: "Mailchimp",
    about: "Members of the segment are subscribed to an audience and carry a tag; leaving takes the tag off.",
    parts: [
      {
        key: "api_key",
        label: "API key",
        type: "secret",
        required: true,
        placeholder: "…-us21",
        help: "Mailchimp: Profile → Extras → API keys. It ends in your data center (-us21…).",
      },
      {
        key: "list_id",
        label: "Audience id",
        type: "text",
        required: true,
        help: "Mailchimp: Audience → Settings → Audience name and defaults → Audience ID.",
      },
      { key: "tag", label: "Tag", type: "text", required: true, placeholder: "e.g. slice-vip" },
      API_URL,
    ],
  },
  brevo: {
    label: "Brevo",
    about: "Members of the segment are kept in a Brevo contact list.",
    parts: [
      {
        key: "api_key",
        label: "API key",
        type: "secret",
        required: true,
        help: "Brevo: Settings → SMTP & API → API keys (v3).",
      },
      {
        key: "list_id",
        label: "List id",
        type: "number",
        required: true,
        placeholder: "e.g. 12",
        help: "Brevo: Contacts → Lists: the number in the ID column.",
      },
      API_URL,
    ],
  },
  kit: {
    label: "Kit (ConvertKit)",
    about: "Members of the segment are the subscribers carrying one Kit tag.",
    parts: [
      {
        choice: "credential",
        label: "Credential",
        options: [
          {
            value: "api_key",
            label: "API key",
            inputs: [
              {
                key: "api_key",
                label: "API key",
                type: "secret",
                required: true,
                help: "Kit: Settings → Developer → API keys (v4).",
              },
            ],
          },
          {
            value: "access_token",
            label: "OAuth access token",
            inputs: [{ key: "access_token", label: "Access token", type: "secret", required: true }],
          },
        ],
      },
      {
        choice: "tag",
        label: "Tag",
        options: [
          {
            value: "tag_name",
            label: "Tag name",
            inputs: [
              {
                key: "tag_name",
                label: "Tag name",
                type: "text",
                required: true,
                help: "Found, or made when it does not exist yet.",
              },
            ],
          },
          {
            value: "tag_id",
            label: "Tag id",
            inputs: [{ key: "tag_id", label: "Tag id", type: "number", required: true }],
          },
        ],
      },
      API_URL,
    ],
  },
  meta: {
    label: "Meta custom audience",
    about: "Members of the segment are uploaded (hashed) to a customer-list custom audience.",
    parts: [
      {
        key: "access_token",
        label: "Access token",
        type: "secret",
        required: true,
        help: "A system user token with ads_management on the ad account.",
      },
      {
        key: "audience_id",
        label: "Custom audience id",
        type: "text",
        required: true,
        placeholder: "e.g. 23851234567890123",
      },
      INCLUDE_SUPPRESSED,
      API_URL,
    ],
  },
  google: {
    label: "Google Customer Match",
    about: "Members of the segment are sent (hashed) to a Customer Match user list.",
    parts: [
      {
        key: "account_id",
        label: "Google Ads customer id",
        type: "text",
        required: true,
        placeholder: "123-456-7890",
      },
      { key: "user_list_id", label: "User list id", type: "text", required: true },
      {
        choice: "credential",
        label: "Credential",
        options: [
          {
            value: "access_token",
            label: "Access token",
            inputs: [{ key: "access_token", label: "Access token", type: "secret", required: true }],
          },
          {
            value: "oauth",
            label: "OAuth refresh token",
            inputs: [
              { key: "client_id", label: "Client id", type: "text", required: true },
              { key: "client_secret", label: "Client secret", type: "secret", required: true },
              { key: "refresh_token", label: "Refresh token", type: "secret", required: true },
            ],
          },
        ],
      },
      INCLUDE_SUPPRESSED,
      API_URL,
    ],
  },
};

export const STATE_INFO: Record<DestinationState, { label: string; color: string }> = {
  live: { label: "live", color: "green" },
  initial_sync: { label: "initial sync", color: "blue" },
  paused: { label: "paused", color: "gray" },
  failing: { label: "failing", color: "red" },
};

export const RUN_STATE_COLOR: Record<RunState, string> = {
  running: "blue",
  succeeded: "green",
  partial: "orange",
  failed: "red",
};

/** Seconds as a person reads them: "0 s", "42 s", "3 min 5 s", "2 h 4 min". */
export function seconds(s: number): string {
  if (s < 60) return `${Math.round(s * 10) / 10} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** How long a run took (or has been going), from its instants. */
export function duration(startedAt: string | null, finishedAt: string | null): string {
  if (!startedAt) return "";
  if (!finishedAt) return "running";
  const ms = new Date(finishedAt).getTime() - new Date(startedAt).getTime();
  return ms < 1000 ? `${ms} ms` : seconds(ms / 1000);
}
