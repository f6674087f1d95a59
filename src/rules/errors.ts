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

/** A rule (or other input) that cannot be accepted; `issues` names every bad part. */
export class RuleValidationError extends Error {
  readonly issues: RuleIssue[];
  constructor(issues: RuleIssue[]) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join("; "));
    this.name = "RuleValidationError";
    this.issues = issues;
  }
  /** The path of the first bad part (the HTTP layer answers it as `details.path`). */
  get path(): string {
    return this.issues[0]?.path ?? "";
  }
}
