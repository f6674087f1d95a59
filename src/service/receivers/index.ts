/**
 * Registry of the sending-platform receivers. The route `POST /hooks/{receiver_id}` looks
 * up the receiver's provider here, then:
 *
 *   const adapter = RECEIVERS[receiver.provider];
 *   const verdict = await adapter.verify(req, receiver.config, guardFor(receiver.id));
 *   if (!verdict.ok) → 401 with verdict.reason (and count it on the receiver);
 *   const { events, errors, confirm } = adapter.parse(req, receiver.config);
 *     (ReceiverInputError → 400 with its message)
 *   if (confirm) → GET confirm.subscribeUrl (SNS subscription);
 *   ingest `events` (their ids make redeliveries count once), report `errors`.
 *
 * Mapping tables: docs/ingest.md, "Sending platforms' event webhooks".
 */
import { type MailgunConfig, mailgun } from "./mailgun.ts";
import { type PostmarkConfig, postmark } from "./postmark.ts";
import { type ResendConfig, resend } from "./resend.ts";
import { type SendgridConfig, sendgrid } from "./sendgrid.ts";
import { type SesConfig, ses } from "./ses.ts";
import type { Provider, ReceiverAdapter } from "./types.ts";

export { type MailgunConfig, mailgun, mailgunConfig } from "./mailgun.ts";
export { type PostmarkConfig, postmark, postmarkConfig } from "./postmark.ts";
export {
  DEFAULT_REPLAY_MAX_ENTRIES,
  DEFAULT_REPLAY_WINDOW_MS,
  MemoryReplayGuard,
  scopedReplayGuard,
} from "./replay-guard.ts";
export { type ResendConfig, resend, resendConfig } from "./resend.ts";
export { type SendgridConfig, sendgrid, sendgridConfig } from "./sendgrid.ts";
export {
  createSesAdapter,
  type SesAdapterOptions,
  type SesConfig,
  SNS_HOST_PATTERN,
  ses,
  sesConfig,
} from "./ses.ts";
export * from "./types.ts";

export interface ReceiverConfigs {
  sendgrid: SendgridConfig;
  mailgun: MailgunConfig;
  ses: SesConfig;
  postmark: PostmarkConfig;
  resend: ResendConfig;
}

export const RECEIVERS: { [P in Provider]: ReceiverAdapter<ReceiverConfigs[P]> } = {
  sendgrid,
  mailgun,
  ses,
  postmark,
  resend,
};

export const PROVIDERS = Object.keys(RECEIVERS) as Provider[];

export function isProvider(value: string): value is Provider {
  return Object.hasOwn(RECEIVERS, value);
}
