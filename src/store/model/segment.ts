/** Segments, their versions, static memberships and overrides. */
import type { JsonValue } from "./common.ts";

export type SegmentKind = "dynamic" | "static";

export interface SegmentRecord {
  id: string;
  kind: SegmentKind;
  name: string;
  description: string;
  rule: JsonValue | null;
  /** 1 at creation, +1 on every edit. */
  version: number;
  created_at: number;
  updated_at: number;
}

export interface NewSegment {
  /** Default: a new `seg_…` id. */
  id?: string;
  kind: SegmentKind;
  name: string;
  description?: string;
  rule?: JsonValue | null;
}

export interface SegmentPatch {
  name?: string;
  description?: string;
  rule?: JsonValue | null;
}

export interface SegmentVersion {
  segment_id: string;
  version: number;
  name: string;
  description: string;
  rule: JsonValue | null;
  created_at: number;
}

export type MemberAction = "added" | "removed";

/** A static membership (always `added`) or a manual override of a dynamic segment. */
export interface MemberRecord {
  segment_id: string;
  contact_id: string;
  action: MemberAction;
  expires_at: number | null;
  created_at: number;
}

export interface MemberWrite {
  contact_id: string;
  action: MemberAction;
  expires_at?: number | null;
}
