/**
 * The typed client of the ways data comes into Slice: API keys with their roles, the
 * receivers of sending platforms' event webhooks, and the counters of every source
 * (`GET /v1/sources`). Calls go through the same authenticated fetch as `api.ts`.
 */
import { call } from "./api.ts";

export const ROLES = ["read_write", "read_only", "ingest"] as const;
export type KeyRole = (typeof ROLES)[number] | "admin";

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  role: KeyRole;
  created_at: string | null;
}

/** A new key: its secret (`key`) is shown once. */
export interface CreatedKey extends ApiKey {
  key: string;
}

export const PROVIDERS = ["sendgrid", "mailgun", "ses", "postmark", "resend"] as const;
export type Provider = (typeof PROVIDERS)[number];

export type Outcome = "accepted" | "rejected" | "signature_failed";

export interface Delivery {
  at: string;
  outcome: Outcome;
  events: number;
  detail: string | null;
}

export interface ReceiverStats {
  accepted: number;
  rejected: number;
  signature_failures: number;
  last_seen_at: string | null;
  last_error: string | null;
}

export interface Receiver {
  id: string;
  provider: Provider;
  name: string;
  /** The absolute URL to paste into the provider's dashboard. */
  url: string;
  /** Non-secret settings; secrets are never read back. */
  config: Record<string, unknown>;
  /** The names of the secret settings that are set (their values are never read back). */
  secrets_set?: string[];
  created_at: string | null;
  stats: ReceiverStats;
  recent: Delivery[];
}

/** A new receiver: `secrets` holds what Slice generated, shown once (Postmark's credentials). */
export interface CreatedReceiver extends Receiver {
  secrets?: Record<string, string>;
}

export type Source =
  | {
      type: "segment";
      id: string;
      name: string;
      accepted: number;
      rejected: number;
      last_seen_at: string | null;
      /** Why the last refused message was refused. */
      last_error?: string | null;
    }
  | {
      type: "receiver";
      id: string;
      provider: Provider;
      name: string;
      accepted: number;
      rejected: number;
      signature_failures: number;
      last_seen_at: string | null;
    };

const at = (id: string) => encodeURIComponent(id);

export const sourcesApi = {
  keys: () => call<{ data: ApiKey[] }>("GET", "/v1/keys").then((p) => p.data),
  createKey: (k: { name?: string; role: (typeof ROLES)[number] }) => call<CreatedKey>("POST", "/v1/keys", k),
  revokeKey: (id: string) => call<null>("DELETE", `/v1/keys/${at(id)}`),
  receivers: () => call<{ data: Receiver[] }>("GET", "/v1/receivers").then((p) => p.data),
  receiver: (id: string) => call<Receiver>("GET", `/v1/receivers/${at(id)}`),
  createReceiver: (r: { provider: Provider; name?: string; config: Record<string, string> }) =>
    call<CreatedReceiver>("POST", "/v1/receivers", r),
  deleteReceiver: (id: string) => call<null>("DELETE", `/v1/receivers/${at(id)}`),
  sources: () => call<{ data: Source[] }>("GET", "/v1/sources").then((p) => p.data),
};

/** How a role is described wherever a key's role is picked or shown. */
export const ROLE_HELP: Record<KeyRole, { label: string; help: string }> = {
  read_write: {
    label: "Read and write",
    help: "Everything in the workspace: segments, contacts, events, keys.",
  },
  read_only: { label: "Read only", help: "Reads everything and previews rules; changes nothing." },
  ingest: {
    label: "Ingest",
    help: "Only sends contacts and events (API and Segment SDKs); reads nothing. For apps and SDKs.",
  },
  admin: { label: "Admin", help: "The server's own key: every workspace, can never be revoked from here." },
};

/** One config input of a provider's receiver and where its value is found. */
export interface ProviderInput {
  key: string;
  label: string;
  required: boolean;
  placeholder?: string;
  help: string;
}

export const PROVIDER_INFO: Record<Provider, { label: string; inputs: ProviderInput[]; setup: string }> = {
  sendgrid: {
    label: "SendGrid",
    inputs: [
      {
        key: "public_key",
        label: "Verification key",
        required: true,
        placeholder: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE…",
        help: "SendGrid: Settings → Mail Settings → Event Webhook → Signature Verification (turn it on), then copy the “Verification Key”.",
      },
    ],
    setup:
      "In SendGrid, Settings → Mail Settings → Event Webhook: paste this URL as the Post URL and pick the events to send.",
  },
  mailgun: {
    label: "Mailgun",
    inputs: [
      {
        key: "signing_key",
        label: "HTTP webhook signing key",
        required: true,
        help: "Mailgun: Sending → Webhooks (or Settings → API Security) → “HTTP webhook signing key”.",
      },
    ],
    setup:
      "In Mailgun, Sending → Webhooks: add this URL for each event type (delivered, opened, clicked, bounces, complaints, unsubscribes).",
  },
  ses: {
    label: "Amazon SES (via SNS)",
    inputs: [
      {
        key: "topic_arn",
        label: "SNS topic ARN (optional)",
        required: false,
        placeholder: "arn:aws:sns:eu-west-1:123456789012:ses-events",
        help: "Amazon SNS console → Topics → your topic's ARN. When set, messages of any other topic are refused.",
      },
    ],
    setup:
      "In Amazon SNS, subscribe this URL (HTTPS) to the topic your SES configuration set publishes to; Slice confirms the subscription itself.",
  },
  postmark: {
    label: "Postmark",
    inputs: [],
    setup:
      "In Postmark, your server → Settings → Webhooks → Add webhook: paste the URL with credentials shown once after creating.",
  },
  resend: {
    label: "Resend",
    inputs: [
      {
        key: "secret",
        label: "Signing secret",
        required: true,
        placeholder: "whsec_…",
        help: "Resend: Webhooks → Add webhook (any endpoint for now; you will paste Slice's URL after) → open it → “Signing secret” (starts with whsec_).",
      },
    ],
    setup:
      "Resend shows the signing secret only once a webhook exists: if you made it with a placeholder endpoint to get the secret, edit its endpoint to this URL now.",
  },
};

/** An instant for a table: local date and time, or "never". */
export function when(iso: string | null): string {
  if (!iso) return "never";
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "medium" });
}
