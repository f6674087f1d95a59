export type PathPart = string | number;

/** `["conditions", 1, "op"]` under root `rule` → `rule.conditions[1].op`. */
export function formatPath(root: string, parts: readonly PathPart[]): string {
  let out = root;
  for (const p of parts) out += typeof p === "number" ? `[${p}]` : out === "" ? p : `.${p}`;
  return out;
}

export interface RuleIssue {
  /** Where the bad part is, e.g. `rule.conditions[1].op`. */
  path: string;
  message: string;
}

/**
 * How many issues an error keeps: a rule with 10,000 bad conditions was answered with
 * every one (739 KB); the first ones locate the mistake, `issueCount` says how many.
 */
export const MAX_REPORTED_ISSUES = 100;

/** A rule (or other input) that cannot be accepted; `issues` names the first bad parts. */
export class RuleValidationError extends Error {
  readonly issues: RuleIssue[];
  /** Every issue found, of which `issues` holds the first `MAX_REPORTED_ISSUES`. */
  readonly issueCount: number;
  constructor(issues: RuleIssue[]) {
    const kept = issues.slice(0, MAX_REPORTED_ISSUES);
    const more = issues.length - kept.length;
    super(kept.map((i) => `${i.path}: ${i.message}`).join("; ") + (more > 0 ? `; and ${more} more` : ""));
    this.name = "RuleValidationError";
    this.issues = kept;
    this.issueCount = issues.length;
  }
  /** The path of the first bad part (the HTTP layer answers it as `details.path`). */
  get path(): string {
    return this.issues[0]?.path ?? "";
  }
}
