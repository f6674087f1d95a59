/** The connectors of each destination kind (docs/destinations.md). */
import { createBrevoConnector } from "./brevo.ts";
import { createGoogleConnector } from "./google.ts";
import { createHttpConnector } from "./http.ts";
import { createKitConnector } from "./kit.ts";
import { createMailchimpConnector } from "./mailchimp.ts";
import { createMetaConnector } from "./meta.ts";
import type { Connector, DestinationKind } from "./types.ts";

export interface ConnectorOptions {
  /** Refuse loopback and private addresses for the `http` kind, as webhooks do. */
  denyPrivate: boolean;
}

export function defaultConnectors(opts: ConnectorOptions): Partial<Record<DestinationKind, Connector>> {
  return {
    http: createHttpConnector({ denyPrivate: opts.denyPrivate }),
    brevo: createBrevoConnector(),
    mailchimp: createMailchimpConnector(),
    // One instance per service: it paces requests per credential across passes.
    kit: createKitConnector(),
    meta: createMetaConnector(),
    google: createGoogleConnector(),
  };
}
