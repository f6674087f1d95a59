/**
 * Where the start-up load is: the server listens at once and answers `/readyz` from
 * this (503 with the progress while loading, 200 once every workspace is loaded), and
 * refuses API requests until then.
 */
import type { LoadPhase } from "../service/live-workspace.ts";

export type ReadyStatus = "loading" | "ready" | "failed";

export interface ReadinessSnapshot {
  status: ReadyStatus;
  /**
   * While loading: `opening` (the store), then per workspace `snapshot` and
   * `since_snapshot` (from its snapshot file) or contacts, events, members, then
   * `segments`; then `finishing`.
   */
  phase?: string;
  /** Rows of the phase loaded so far, and how many there are (null when not counted). */
  done?: number;
  total?: number | null;
  workspace?: string | null;
  workspaces: { loaded: number; total: number };
  elapsed_ms: number;
  error?: string;
}

export class Readiness {
  private status: ReadyStatus = "loading";
  private phase = "opening";
  private done = 0;
  private total: number | null = null;
  private workspace: string | null = null;
  private loaded = 0;
  private workspaceCount = 0;
  private error: string | null = null;
  private readonly began = performance.now();
  private endedAfter: number | null = null;
  /** Rows to load per workspace, when counted (`SELECT COUNT(*)` while loading). */
  private readonly totals = new Map<string, Partial<Record<LoadPhase, number>>>();

  get ready(): boolean {
    return this.status === "ready";
  }

  get failed(): boolean {
    return this.status === "failed";
  }

  /** A server answering at once is ready: nothing to load (tests, library use). */
  static readyNow(): Readiness {
    const r = new Readiness();
    r.markReady();
    return r;
  }

  setWorkspaces(total: number): void {
    this.workspaceCount = total;
  }

  setTotals(ws: string, totals: Partial<Record<LoadPhase, number>>): void {
    this.totals.set(ws, { ...this.totals.get(ws), ...totals });
    if (this.workspace === ws && this.phase in totals) {
      this.total = totals[this.phase as LoadPhase] ?? this.total;
    }
  }

  /** Rows of a phase of a workspace loaded so far. */
  progress(ws: string, phase: LoadPhase, rows: number): void {
    this.workspace = ws;
    this.phase = phase;
    this.done = rows;
    this.total = this.totals.get(ws)?.[phase] ?? null;
  }

  /** A step without rows (`segments`, `finishing`, a demo load). */
  step(phase: string, ws: string | null = this.workspace): void {
    this.phase = phase;
    this.workspace = ws;
    this.done = 0;
    this.total = null;
  }

  workspaceLoaded(): void {
    this.loaded++;
  }

  markReady(): void {
    this.status = "ready";
    this.endedAfter = performance.now() - this.began;
  }

  markFailed(e: unknown): void {
    this.status = "failed";
    this.error = e instanceof Error ? e.message : String(e);
    this.endedAfter = performance.now() - this.began;
  }

  snapshot(): ReadinessSnapshot {
    const workspaces = { loaded: this.loaded, total: this.workspaceCount };
    const elapsed_ms = Math.round(this.endedAfter ?? performance.now() - this.began);
    if (this.status === "ready") return { status: "ready", workspaces, elapsed_ms };
    return {
      status: this.status,
      phase: this.phase,
      done: this.done,
      total: this.total,
      workspace: this.workspace,
      workspaces,
      elapsed_ms,
      ...(this.error !== null ? { error: this.error } : {}),
    };
  }
}
