/**
 * Segments (SPEC §3, §4): the default and custom ones on the wire, their versions,
 * creating, replacing and deleting one (what refers to it guards the delete).
 */
import { DEFAULT_SEGMENT_IDS, defaultSegments } from "../../rules/defaults.ts";
import { newId } from "../../store/ids.ts";
import type { JsonValue, SegmentRecord, SegmentVersion } from "../../store/types.ts";
import { ApiError, invalid, notFound } from "../errors.ts";
import { type IfMatch, requireMatch, segmentTag } from "../etag.ts";
import { ruleOfInput, ruleTextOf } from "../rule-input.ts";
import type { SegmentInput, SegmentReplace } from "../wire.ts";
import {
  isDefault,
  iso,
  requireCustom,
  requireSegment,
  ruleError,
  type WireSegment,
  type WorkspaceCore,
} from "./core.ts";

const DEFAULT_NAMES = new Map(defaultSegments().map((s) => [s.id, s.name]));
const DEFAULT_DESCRIPTIONS: Record<string, string> = {
  all: "Every contact.",
  customers: "At least one order_placed or offer_granted, ever.",
  subscribed: "status = subscribed.",
  inactive: "Subscribed more than 90 days ago and no email_opened in the last 90 days.",
  hard_bounced: "email_status = hard_bounced.",
  excluded:
    "Inactive and high-risk (soft bouncing, or never opened nor clicked though sent at least 5 emails).",
};

export async function wireSegment(
  ws: WorkspaceCore,
  rec: SegmentRecord | null,
  id: string,
): Promise<WireSegment> {
  const [size] = await ws.engine.sizes([id]);
  return wireSegmentOf(ws, rec, id, size!);
}

/** The wire form of a segment of this size. */
function wireSegmentOf(ws: WorkspaceCore, rec: SegmentRecord | null, id: string, size: number): WireSegment {
  const def = ws.engine.segment(id)!;
  if (rec === null) {
    return {
      id,
      name: DEFAULT_NAMES.get(id) ?? id,
      description: DEFAULT_DESCRIPTIONS[id] ?? "",
      kind: "dynamic",
      rule: def.rule as unknown as JsonValue,
      rule_text: ruleTextOf(def.rule),
      default: true,
      version: 1,
      size,
      created_at: null,
      updated_at: null,
    };
  }
  return {
    id,
    name: rec.name,
    description: rec.description,
    kind: rec.kind,
    rule: rec.rule,
    rule_text: ruleTextOf(rec.rule),
    default: false,
    version: rec.version,
    size,
    created_at: iso(rec.created_at),
    updated_at: iso(rec.updated_at),
  };
}

export async function listSegments(ws: WorkspaceCore): Promise<WireSegment[]> {
  const stored = await ws.store.workspace(ws.id).segments.list();
  const listed: [SegmentRecord | null, string][] = [
    ...DEFAULT_SEGMENT_IDS.filter((id) => ws.engine.segment(id)).map((id): [null, string] => [null, id]),
    ...stored.filter((s) => ws.engine.segment(s.id)).map((s): [SegmentRecord, string] => [s, s.id]),
  ];
  // One question for every size: on worker threads, one round trip.
  const sizes = await ws.engine.sizes(listed.map(([, id]) => id));
  return listed.map(([rec, id], k) => wireSegmentOf(ws, rec, id, sizes[k]!));
}

/** A segment's versions, newest first (a default segment has its one). */
export async function segmentVersions(ws: WorkspaceCore, id: string): Promise<SegmentVersion[]> {
  if (isDefault(id)) {
    requireSegment(ws, id);
    const s = await wireSegment(ws, null, id);
    return [
      { segment_id: id, version: 1, name: s.name, description: s.description, rule: s.rule, created_at: 0 },
    ];
  }
  if (!ws.engine.segment(id)) throw notFound("segment", id);
  const versions = await ws.store.workspace(ws.id).segments.versions(id);
  if (versions.length === 0) throw notFound("segment", id);
  return versions.sort((a, b) => b.version - a.version);
}

export async function getSegment(ws: WorkspaceCore, id: string): Promise<WireSegment> {
  if (isDefault(id)) {
    requireSegment(ws, id);
    return wireSegment(ws, null, id);
  }
  const rec = await ws.store.workspace(ws.id).segments.get(id);
  if (!rec || !ws.engine.segment(id)) throw notFound("segment", id);
  return wireSegment(ws, rec, id);
}

function checkRule(ws: WorkspaceCore, kind: "dynamic" | "static", rule: unknown, selfId?: string): void {
  if (kind === "static") {
    if (rule !== undefined && rule !== null) throw invalid("rule", "a static segment has no rule");
    return;
  }
  if (rule === undefined) throw invalid("rule", "a dynamic segment needs a rule");
  try {
    ws.engine.validate(rule, selfId);
  } catch (e) {
    ruleError(e, "rule");
  }
}

export async function createSegment(ws: WorkspaceCore, input: SegmentInput): Promise<WireSegment> {
  const kind = input.kind ?? "dynamic";
  const rule = ruleOfInput(input);
  checkRule(ws, kind, rule);
  const id = newId("seg", ws.clock.now());
  const { result } = await ws.live.write(
    (tx) =>
      tx.workspace(ws.id).segments.create({
        id,
        kind,
        name: input.name,
        ...(input.description !== undefined ? { description: input.description } : {}),
        rule: kind === "dynamic" ? (rule as JsonValue) : null,
      }),
    (rec) => ws.engine.defineSegment({ id: rec.id, kind, ...(kind === "dynamic" ? { rule: rec.rule } : {}) }),
  );
  return wireSegment(ws, result, result.id);
}

/** With `ifMatch`, refused (412) unless the segment's version tag still matches. */
export async function replaceSegment(
  ws: WorkspaceCore,
  id: string,
  input: SegmentReplace,
  opts: { ifMatch?: IfMatch | null } = {},
): Promise<WireSegment> {
  requireCustom(id);
  const existing = await ws.store.workspace(ws.id).segments.get(id);
  if (!existing) throw notFound("segment", id);
  if (input.id !== undefined && input.id !== id)
    throw invalid("id", `is "${input.id}", not this segment's "${id}"`);
  if (input.kind !== undefined && input.kind !== existing.kind) {
    throw new ApiError(
      "conflict",
      `kind: a ${existing.kind} segment cannot become ${input.kind}; create a new segment instead`,
      { path: "kind" },
    );
  }
  let rule = ruleOfInput(input);
  if (existing.kind === "static" && rule === null) rule = undefined;
  checkRule(ws, existing.kind, rule, id);
  const { result } = await ws.live.write(
    async (tx) => {
      const segments = tx.workspace(ws.id).segments;
      if (opts.ifMatch) {
        const cur = await segments.get(id);
        if (!cur) throw notFound("segment", id);
        requireMatch(opts.ifMatch, segmentTag(cur.version));
      }
      const rec = await segments.update(id, {
        name: input.name,
        description: input.description ?? "",
        ...(existing.kind === "dynamic" ? { rule: rule as JsonValue } : {}),
      });
      if (!rec) throw notFound("segment", id);
      return rec;
    },
    async (rec) => {
      if (rec.kind === "dynamic") await ws.engine.defineSegment({ id, kind: "dynamic", rule: rec.rule });
    },
  );
  return wireSegment(ws, result, id);
}

export async function uses(ws: WorkspaceCore, id: string): Promise<{ type: string; id: string }[]> {
  requireSegment(ws, id);
  const segs = ws.engine.usesOf(id).map((s) => ({ type: "segment", id: s }));
  const others = (await ws.hooks.segmentUsers?.(ws.id, id)) ?? [];
  return [...segs, ...others];
}

export async function deleteSegment(
  ws: WorkspaceCore,
  id: string,
  opts: { ifMatch?: IfMatch | null } = {},
): Promise<void> {
  requireCustom(id);
  if (!(await ws.store.workspace(ws.id).segments.get(id))) throw notFound("segment", id);
  const users = await uses(ws, id);
  if (users.length > 0) {
    throw new ApiError(
      "conflict",
      `segment "${id}" is in use by ${users.map((u) => `${u.type} ${u.id}`).join(", ")}`,
      { uses: users },
    );
  }
  await ws.live.write(
    async (tx) => {
      const segments = tx.workspace(ws.id).segments;
      if (opts.ifMatch) {
        const cur = await segments.get(id);
        if (!cur) throw notFound("segment", id);
        requireMatch(opts.ifMatch, segmentTag(cur.version));
      }
      return segments.delete(id);
    },
    () => ws.engine.removeSegment(id),
  );
}
