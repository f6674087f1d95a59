/** Data coming in from other tools: sending-platform receivers. */
import type { JsonObject } from "./common.ts";

/** A sending platform's event webhook, received at `/hooks/{id}` (docs/ingest.md). */
export interface ReceiverRecord {
  id: string;
  workspace_id: string;
  provider: string;
  name: string;
  /** The provider's settings, secrets included: never answered as they are. */
  config: JsonObject;
  created_at: number;
}

export interface NewReceiver {
  provider: string;
  name: string;
  config: JsonObject;
}
