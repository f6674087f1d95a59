/**
 * The client commands of the ways data comes in: API keys with their roles, receivers
 * of sending platforms' event webhooks, and the counters of every source. Secrets the
 * server shows once (a key, Postmark's credentials) go to stdout so they can be piped;
 * what they are goes to stderr.
 */
import { Command } from "commander";
import { CliError, Client, type ClientOptions, seg } from "./client.ts";
import { choice, withClient } from "./options.ts";
import { num, type Out, paint, stdio, table } from "./output.ts";

const ROLES = ["read_write", "read_only", "ingest"] as const;
const PROVIDERS = ["sendgrid", "mailgun", "ses", "postmark", "resend"] as const;
type Provider = (typeof PROVIDERS)[number];

interface WireKey {
  id: string;
  name: string;
  prefix: string;
  role: string;
  created_at: string | null;
  key?: string;
}

interface Delivery {
  at: string;
  outcome: "accepted" | "rejected" | "signature_failed";
  events: number;
  detail: string | null;
}

interface WireReceiver {
  id: string;
  provider: string;
  name: string;
  url: string;
  config: Record<string, unknown>;
  secrets_set?: string[];
  created_at: string | null;
  stats: {
    accepted: number;
    rejected: number;
    signature_failures: number;
    last_seen_at: string | null;
    last_error: string | null;
  };
  recent: Delivery[];
  secrets?: Record<string, string>;
}

interface WireSource {
  type: "segment" | "receiver";
  id: string;
  provider?: string;
  name: string;
  accepted: number;
  rejected: number;
  signature_failures?: number;
  last_seen_at: string | null;
}

function printTable(out: Out, rows: string[][]): void {
  const lines = table(rows);
  out.line(paint(out.color, "bold", lines[0]!));
  for (const l of lines.slice(1)) out.line(l);
}

const seen = (iso: string | null): string => iso ?? "never";

// ---------------------------------------------------------------- keys

function keysCommand(): Command {
  const cmd = new Command("keys").description("API keys of the workspace of the key used, with their roles");

  cmd.addCommand(
    withClient(
      new Command("list")
        .description("the workspace's keys (never their secrets)")
        .option("--json", "print the API's JSON answer"),
    ).action(async (flags: ClientOptions & { json?: boolean }) => {
      const out = stdio();
      const r = await new Client(flags).json<{ data: WireKey[] }>("GET", "/v1/keys");
      if (flags.json) return out.line(JSON.stringify(r.data, null, 2));
      if (r.data.length === 0) return out.line("no keys");
      printTable(out, [
        ["ID", "NAME", "PREFIX", "ROLE", "CREATED"],
        ...r.data.map((k) => [k.id, k.name, `${k.prefix}…`, k.role, k.created_at ?? ""]),
      ]);
    }),
  );

  cmd.addCommand(
    withClient(
      new Command("create")
        .description("create an API key (its secret is shown once)")
        .option("--name <name>", "a name to recognise it by")
        .option(
          "--role <role>",
          "read_write (everything; the default), read_only (reads and previews), ingest (sends contacts and events, reads nothing)",
          choice(ROLES),
        )
        .option("--json", "print the API's JSON answer"),
    )
      .addHelpText(
        "after",
        `
Examples:
  $ slice keys create --name "Website backend" --role ingest
  $ export SLICE_API_KEY=$(slice keys create --name "Dashboards" --role read_only)`,
      )
      .action(async (flags: ClientOptions & { name?: string; role?: string; json?: boolean }) => {
        const out = stdio();
        const k = await new Client(flags).json<WireKey & { key: string }>("POST", "/v1/keys", {
          json: {
            ...(flags.name !== undefined ? { name: flags.name } : {}),
            ...(flags.role !== undefined ? { role: flags.role } : {}),
          },
        });
        if (flags.json) return out.line(JSON.stringify(k, null, 2));
        out.note(`created key ${k.id} "${k.name}" (${k.role}); its secret is shown once, keep it:`);
        out.line(k.key);
      }),
  );

  cmd.addCommand(
    withClient(
      new Command("revoke").description("revoke a key: it is refused from now on").argument("<id>", "key id"),
    ).action(async (id: string, flags: ClientOptions) => {
      await new Client(flags).json("DELETE", `/v1/keys/${seg(id)}`);
      stdio().line(`revoked key ${id}`);
    }),
  );
  return cmd;
}

// ---------------------------------------------------------------- receivers

interface CreateFlags extends ClientOptions {
  name?: string;
  publicKey?: string;
  signingKey?: string;
  secret?: string;
  topicArn?: string;
  username?: string;
  password?: string;
  json?: boolean;
}

/** Each provider's config: the flag giving each key, whether it is needed, and where it is found. */
const CONFIG: Record<
  Provider,
  { key: string; flag: keyof CreateFlags; option: string; required: boolean; where: string }[]
> = {
  sendgrid: [
    {
      key: "public_key",
      flag: "publicKey",
      option: "--public-key",
      required: true,
      where:
        "SendGrid: Settings → Mail Settings → Event Webhook → Signature Verification, the “Verification Key”",
    },
  ],
  mailgun: [
    {
      key: "signing_key",
      flag: "signingKey",
      option: "--signing-key",
      required: true,
      where: "Mailgun: Sending → Webhooks, the “HTTP webhook signing key”",
    },
  ],
  ses: [
    {
      key: "topic_arn",
      flag: "topicArn",
      option: "--topic-arn",
      required: false,
      where: "Amazon SNS: Topics → your topic's ARN",
    },
  ],
  postmark: [
    {
      key: "username",
      flag: "username",
      option: "--username",
      required: false,
      where: "made by Slice when absent",
    },
    {
      key: "password",
      flag: "password",
      option: "--password",
      required: false,
      where: "made by Slice when absent",
    },
  ],
  resend: [
    {
      key: "secret",
      flag: "secret",
      option: "--secret",
      required: true,
      where: "Resend: Webhooks → your webhook → “Signing secret” (whsec_…)",
    },
  ],
};

/** The config object of `receivers create`, refusing options the provider does not take. */
export function receiverConfig(provider: Provider, flags: CreateFlags): Record<string, string> {
  const inputs = CONFIG[provider];
  const config: Record<string, string> = {};
  for (const i of inputs) {
    const v = flags[i.flag];
    if (typeof v === "string" && v.trim() !== "") config[i.key] = v.trim();
    else if (i.required) throw new CliError(`${provider} needs ${i.option} (${i.where})`);
  }
  for (const all of Object.values(CONFIG).flat()) {
    if (!inputs.some((i) => i.flag === all.flag) && flags[all.flag] !== undefined) {
      throw new CliError(
        `${all.option} is not a setting of ${provider}; it takes ${inputs.map((i) => i.option).join(", ") || "none"}`,
      );
    }
  }
  return config;
}

const OUTCOME: Record<Delivery["outcome"], string> = {
  accepted: "accepted",
  rejected: "rejected",
  signature_failed: "SIGNATURE FAILED",
};

function printReceiver(out: Out, r: WireReceiver): void {
  out.line(`${paint(out.color, "bold", r.name || r.id)} (${r.provider}) ${r.id}`);
  out.line(`url:                ${r.url}`);
  const config = [
    ...Object.entries(r.config ?? {}),
    ...(r.secrets_set ?? []).map((k): [string, unknown] => [k, "(set, never shown)"]),
  ];
  if (config.length > 0) {
    out.line(
      `config:             ${config.map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ")}`,
    );
  }
  out.line(`accepted:           ${num(r.stats.accepted)}`);
  out.line(`rejected:           ${num(r.stats.rejected)}`);
  const sf = num(r.stats.signature_failures);
  out.line(`signature failures: ${r.stats.signature_failures > 0 ? paint(out.color, "red", sf) : sf}`);
  out.line(`last seen:          ${seen(r.stats.last_seen_at)}`);
  if (r.stats.last_error) out.line(`last error:         ${r.stats.last_error}`);
  if (r.recent.length === 0) {
    out.line("recent deliveries:  none since the server started");
    return;
  }
  out.line("recent deliveries (newest first):");
  const lines = table([
    ["AT", "OUTCOME", "EVENTS", "DETAIL"],
    ...r.recent.map((d) => [d.at, OUTCOME[d.outcome] ?? d.outcome, String(d.events), d.detail ?? ""]),
  ]);
  out.line(`  ${paint(out.color, "bold", lines[0]!)}`);
  r.recent.forEach((d, i) => {
    const l = `  ${lines[i + 1]!}`;
    out.line(d.outcome === "signature_failed" ? paint(out.color, "red", l) : l);
  });
}

function receiversCommand(): Command {
  const cmd = new Command("receivers").description(
    "receivers of sending platforms' event webhooks (SendGrid, Mailgun, Amazon SES via SNS, Postmark, Resend)",
  );

  cmd.addCommand(
    withClient(
      new Command("list")
        .description("every receiver with its URL and counters")
        .option("--json", "print the API's JSON answer"),
    ).action(async (flags: ClientOptions & { json?: boolean }) => {
      const out = stdio();
      const r = await new Client(flags).json<{ data: WireReceiver[] }>("GET", "/v1/receivers");
      if (flags.json) return out.line(JSON.stringify(r.data, null, 2));
      if (r.data.length === 0)
        return out.line("no receivers; create one with: slice receivers create <provider>");
      printTable(out, [
        ["ID", "PROVIDER", "NAME", "ACCEPTED", "REJECTED", "SIG FAILURES", "LAST SEEN", "URL"],
        ...r.data.map((x) => [
          x.id,
          x.provider,
          x.name,
          num(x.stats.accepted),
          num(x.stats.rejected),
          num(x.stats.signature_failures),
          seen(x.stats.last_seen_at),
          x.url,
        ]),
      ]);
    }),
  );

  cmd.addCommand(
    withClient(
      new Command("create")
        .description("create a receiver and print the URL to paste into the provider")
        .argument("<provider>", PROVIDERS.join(", "), choice(PROVIDERS))
        .option("--name <name>", "a name to recognise it by")
        .option(
          "--public-key <key>",
          "sendgrid: the Event Webhook's Signature Verification “Verification Key”",
        )
        .option("--signing-key <key>", "mailgun: the “HTTP webhook signing key”")
        .option("--secret <secret>", "resend: the webhook's signing secret (whsec_…)")
        .option("--topic-arn <arn>", "ses: only accept messages of this SNS topic (optional)")
        .option("--username <name>", "postmark: the basic-auth user name (made by Slice when absent)")
        .option("--password <password>", "postmark: the basic-auth password (made by Slice when absent)")
        .option("--json", "print the API's JSON answer"),
    )
      .addHelpText(
        "after",
        `
Examples:
  $ slice receivers create sendgrid --name "SendGrid prod" --public-key MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE…
  $ slice receivers create mailgun --signing-key key-…
  $ slice receivers create resend --secret whsec_…
  $ slice receivers create ses --topic-arn arn:aws:sns:eu-west-1:123456789012:ses-events
  $ slice receivers create postmark     # prints the URL with the credentials Slice made, once`,
      )
      .action(async (provider: Provider, flags: CreateFlags) => {
        const out = stdio();
        const config = receiverConfig(provider, flags);
        const r = await new Client(flags).json<WireReceiver>("POST", "/v1/receivers", {
          json: { provider, ...(flags.name !== undefined ? { name: flags.name } : {}), config },
        });
        if (flags.json) return out.line(JSON.stringify(r, null, 2));
        const withCredentials = r.secrets?.url_with_credentials;
        if (withCredentials) {
          out.note(
            `created receiver ${r.id} "${r.name}" (${r.provider}); paste this URL into the provider, it holds credentials shown once:`,
          );
          out.line(withCredentials);
        } else {
          out.note(`created receiver ${r.id} "${r.name}" (${r.provider}); paste this URL into the provider:`);
          out.line(r.url);
        }
      }),
  );

  cmd.addCommand(
    withClient(
      new Command("show")
        .description("a receiver's URL, counters and recent deliveries")
        .argument("<id>", "receiver id")
        .option("--json", "print the API's JSON answer"),
    ).action(async (id: string, flags: ClientOptions & { json?: boolean }) => {
      const out = stdio();
      const r = await new Client(flags).json<WireReceiver>("GET", `/v1/receivers/${seg(id)}`);
      if (flags.json) return out.line(JSON.stringify(r, null, 2));
      printReceiver(out, r);
    }),
  );

  cmd.addCommand(
    withClient(
      new Command("delete")
        .description("delete a receiver: the provider's posts are refused from now on")
        .argument("<id>", "receiver id"),
    ).action(async (id: string, flags: ClientOptions) => {
      await new Client(flags).json("DELETE", `/v1/receivers/${seg(id)}`);
      stdio().line(`deleted receiver ${id}`);
    }),
  );
  return cmd;
}

// ---------------------------------------------------------------- sources

function sourcesCommand(): Command {
  return withClient(
    new Command("sources")
      .description("counters of every way data comes in (Segment SDKs, receivers) since the server started")
      .option("--json", "print the API's JSON answer"),
  ).action(async (flags: ClientOptions & { json?: boolean }) => {
    const out = stdio();
    const r = await new Client(flags).json<{ data: WireSource[] }>("GET", "/v1/sources");
    if (flags.json) return out.line(JSON.stringify(r.data, null, 2));
    printTable(out, [
      ["TYPE", "ID", "NAME", "ACCEPTED", "REJECTED", "SIG FAILURES", "LAST SEEN"],
      ...r.data.map((s) => [
        s.type === "receiver" && s.provider ? `receiver/${s.provider}` : s.type,
        s.id,
        s.name,
        num(s.accepted),
        num(s.rejected),
        s.signature_failures === undefined ? "-" : num(s.signature_failures),
        seen(s.last_seen_at),
      ]),
    ]);
  });
}

export function sourceCommands(): Command[] {
  return [keysCommand(), receiversCommand(), sourcesCommand()];
}
