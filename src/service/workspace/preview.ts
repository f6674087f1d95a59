/**
 * Rules against the live engine without saving anything: a preview's count and sample
 * (with the diff an edit would make) and why one contact is in or out of a segment.
 */
import type { ExplainNode } from "../../engine/index.ts";
import type { JsonValue } from "../../store/types.ts";
import type { MemberSet } from "../engine-port/port.ts";
import { invalid, notFound } from "../errors.ts";
import { ruleOfInput, ruleTextOf } from "../rule-input.ts";
import type { PreviewInput } from "../wire.ts";
import type { WireContact } from "../wire-contact.ts";
import { contactsByIds } from "./contact-reads.ts";
import { isDefault, iso, requireSegment, ruleError, type WorkspaceCore } from "./core.ts";

export async function preview(
  ws: WorkspaceCore,
  input: PreviewInput,
): Promise<{
  count: number;
  sample: WireContact[];
  took_ms: number;
  /** The rule previewed in both forms: an editor switching between them needs the other one. */
  rule: unknown;
  rule_text: string | null;
  diff?: { entered: number; exited: number; entered_sample: WireContact[]; exited_sample: WireContact[] };
}> {
  const rule = ruleOfInput(input);
  if (rule === undefined) throw invalid("rule", "required (or rule_text)");
  const t0 = performance.now();
  let members: MemberSet;
  try {
    ws.engine.validate(rule, input.segment_id);
    members = await ws.engine.evaluate(rule);
  } catch (e) {
    ruleError(e, "rule");
  }
  let diff: { entered: string[]; exited: string[] } | undefined;
  if (input.segment_id !== undefined) {
    requireSegment(ws, input.segment_id);
    if (isDefault(input.segment_id))
      throw invalid("segment_id", `segment "${input.segment_id}" is read-only`);
    if (ws.engine.segment(input.segment_id)!.kind === "static") {
      throw invalid("segment_id", `segment "${input.segment_id}" is static`);
    }
    diff = await ws.engine.previewEdit(input.segment_id, rule);
  }
  const sampleIds = sampleOf(members!, 10);
  const took_ms = Math.round((performance.now() - t0) * 1000) / 1000;
  const sample = await contactsByIds(ws, sampleIds);
  const out: Awaited<ReturnType<typeof preview>> = {
    count: members!.count,
    sample,
    took_ms,
    rule,
    rule_text: ruleTextOf(rule as JsonValue),
  };
  if (diff) {
    out.diff = {
      entered: diff.entered.length,
      exited: diff.exited.length,
      entered_sample: await contactsByIds(ws, diff.entered.slice(0, 10)),
      exited_sample: await contactsByIds(ws, diff.exited.slice(0, 10)),
    };
  }
  return out;
}

/**
 * With a hand override in force the answer names it: membership is then the override's,
 * and `rule` says what the rule alone would decide.
 */
export async function explain(
  ws: WorkspaceCore,
  contactId: string,
  segmentId: string,
): Promise<{
  member: boolean;
  rule: ExplainNode | null;
  override?: { action: "added" | "removed"; expires_at: string | null };
}> {
  requireSegment(ws, segmentId);
  if (!(await ws.engine.holds(contactId))) throw notFound("contact", contactId);
  const member = (await ws.engine.members(segmentId)).has(contactId);
  const def = ws.engine.segment(segmentId)!;
  if (def.kind === "static") return { member, rule: null };
  const rule = await ws.engine.explain(contactId, segmentId);
  const o = (await ws.engine.overrides(segmentId)).find((x) => x.contact_id === contactId);
  if (!o) return { member, rule };
  return { member, rule, override: { action: o.action, expires_at: iso(o.expires_at) } };
}

function sampleOf(m: { ids(limit?: number): string[] }, n: number): string[] {
  return m.ids(n);
}
