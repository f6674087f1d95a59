/** The connectors of each destination kind (docs/destinations.md). */
import { createBrevoConnector } from "./brevo.ts";
import { createHttpConnector } from "./http.ts";
import type { Connector, DestinationKind } from "./types.ts";

export interface ConnectorOptions {
  /** Refuse loopback and private addresses for the `http` kind, as webhooks do. */
  denyPrivate: boolean;
}

export function defaultConnectors(opts: ConnectorOptions): Partial<Record<DestinationKind, Connector>> {
  return {
    http: createHttpConnector({ denyPrivate: opts.denyPrivate }),
    brevo: createBrevoConnector(),
  };
}
