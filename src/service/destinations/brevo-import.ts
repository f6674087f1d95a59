/**
 * Creating Brevo contacts in bulk: `POST /contacts/import` is the only batch call that
 * creates contacts (`POST /contacts/batch` only updates existing ones and is announced
 * as deprecated in favour of the import). The import is asynchronous: it answers a
 * `processId`, and the add counts as landed only once `GET /processes/{processId}` says
 * `completed`; its `info.import.invalid_emails` report (a CSV behind a URL) names the
 * addresses Brevo refused, which become failed rows.
 *
 * `/processes` is not under `/contacts`, so Brevo's general tier allows it 100 requests
 * an hour (10 per second for `/contacts`): polls start after `pollMs` and double up to
 * `maxPollMs`, to spend few of them.
 */
import type { Brevo } from "@getbrevo/brevo";
import { brevoCall, classifyBrevo } from "./brevo-client.ts";
import { ProviderError } from "./http-call.ts";
import type { ConnectorContext } from "./types.ts";

export interface ImportWait {
  /** First wait before asking about the process (default 2 s). */
  pollMs: number;
  /** Longest wait between two asks (default 30 s). */
  maxPollMs: number;
  /** Give up after this long (default 10 min): the pass is tried again later. */
  timeoutMs: number;
}

export const DEFAULT_IMPORT_WAIT: ImportWait = { pollMs: 2000, maxPollMs: 30_000, timeoutMs: 600_000 };

export interface ImportRow {
  email: string;
  attributes?: Record<string, string>;
}

export interface ImportSpec {
  listId: number;
  rows: ImportRow[];
  /** Blocklist every imported contact for email. */
  emailBlacklist: boolean;
  /** Whether contacts that already exist are touched at all (attributes, blocklist, list). */
  updateExistingContacts: boolean;
}

/** The body of `POST /contacts/import` for a spec (also what a dry run shows). */
export function importBody(spec: ImportSpec): Brevo.ImportContactsRequest {
  return {
    jsonBody: spec.rows.map((r) =>
      r.attributes ? { email: r.email, attributes: r.attributes } : { email: r.email },
    ),
    listIds: [spec.listId],
    emailBlacklist: spec.emailBlacklist,
    updateExistingContacts: spec.updateExistingContacts,
    emptyContactsAttributes: false,
    disableNotification: true,
  };
}

export type ImportOutcome =
  | { status: "completed"; invalid: Set<string> }
  | { status: "failed" | "cancelled"; invalid: Set<string> };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts the import, waits for its process to end, and reads which addresses it refused. */
export async function runImport(
  ctx: ConnectorContext,
  spec: ImportSpec,
  wait: ImportWait,
): Promise<ImportOutcome> {
  const started = await brevoCall(ctx, "POST /contacts/import", (c) =>
    c.contacts.importContacts(importBody(spec)),
  );
  const processId = started.processId;
  if (typeof processId !== "number") {
    throw new ProviderError("POST /contacts/import answered no processId", null, false, started);
  }
  const deadline = Date.now() + wait.timeoutMs;
  let delay = wait.pollMs;
  for (;;) {
    await sleep(delay);
    const p = await brevoCall(ctx, `GET /processes/${processId}`, (c) => c.process.getProcess({ processId }));
    if (p.status === "completed") {
      const url = p.info?.import?.invalid_emails;
      return { status: "completed", invalid: url ? await readReport(ctx, url) : new Set() };
    }
    if (p.status === "failed" || p.status === "cancelled") return { status: p.status, invalid: new Set() };
    delay = Math.min(wait.maxPollMs, delay * 2);
    if (Date.now() + delay > deadline) {
      // Not an error of the rows: the pass is retried, and a second import of the same
      // rows is harmless (the existing ones are then added to the list directly).
      throw new ProviderError(
        `import process ${processId} still ${p.status} after ${wait.timeoutMs} ms`,
        null,
        true,
      );
    }
  }
}

/**
 * The addresses listed in an import report: CSV, the address first on each line, under
 * an `EMAIL` header. Not every refused address holds an `@`, so every cell but the
 * header counts.
 */
async function readReport(ctx: ConnectorContext, url: string): Promise<Set<string>> {
  const res = await ctx.http.with(classifyBrevo).request({ method: "GET", url });
  const text = typeof res.body === "string" ? res.body : JSON.stringify(res.body);
  const out = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const cell = line.split(/[;,]/)[0]?.trim().replace(/^"|"$/g, "") ?? "";
    if (cell !== "" && !/^e-?mail$/i.test(cell)) out.add(cell.toLowerCase());
  }
  return out;
}
