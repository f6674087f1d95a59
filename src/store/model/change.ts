/** The change log of segment membership. */
import type { PageRequest } from "./common.ts";

export type ChangeKind = "entered" | "exited";

export interface ChangeInput {
  segment_id: string;
  contact_id: string;
  change: ChangeKind;
  /** When the change became true. */
  at: number;
}

export interface ChangeRecord extends ChangeInput {
  /** Increases in append (and, per workspace, commit) order. */
  seq: number;
}

export interface ListChangesRequest extends PageRequest {
  /** One segment, or all of the workspace's. */
  segmentId?: string;
  /** Only changes with `at >= since`. */
  since?: number;
  /** Only changes with `at <= until`. */
  until?: number;
}
