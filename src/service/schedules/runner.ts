/**
 * The timer of scheduled exports: every `pollMs` it claims the slots that are due in
 * every workspace and starts their runs. Claims go through the store, so several
 * processes (or a restart) run each slot once; slots missed while no process ran are
 * run once, at the next look (the first one is at `start()`).
 */
import type { RunRecord } from "../../store/model/schedule.ts";
import type { WorkspaceService } from "../workspace.ts";
import type { ScheduleService } from "./service.ts";

export interface ScheduleRunnerOptions {
  /** How often due slots are looked for (default 10 s): a run starts at most this late. */
  pollMs?: number;
  /**
   * A run still `running` after this long was left by a process that stopped (default
   * 6 h); it is marked failed. Not at once at start-up: another process may be running it.
   */
  staleAfterMs?: number;
  log?: (line: string) => void;
}

export const STALE_RUN_ERROR = "interrupted: the process stopped during the run";

export class ScheduleRunner {
  private timer: NodeJS.Timeout | null = null;
  private looking: Promise<unknown> | null = null;

  constructor(
    private readonly schedules: ScheduleService,
    /** The workspaces to look into (Slice.workspace over store.listWorkspaces by default). */
    private readonly workspaces: () => Promise<WorkspaceService[]>,
    private readonly o: ScheduleRunnerOptions = {},
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.o.pollMs ?? 10_000);
    this.timer.unref();
    this.tick();
  }

  /** Stops looking for due slots and waits for the runs in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.looking;
    await this.schedules.drain();
  }

  private tick(): void {
    if (this.looking) return;
    this.looking = this.startDue(this.schedules.clock.now())
      .catch((e: Error) => this.o.log?.(`scheduled exports: ${e.message}`))
      .finally(() => {
        this.looking = null;
      });
  }

  /** Claims and starts the slots due at `now`; answers once they are claimed. */
  private async startDue(now: number): Promise<Promise<RunRecord>[]> {
    const started: Promise<RunRecord>[] = [];
    const staleBefore = now - (this.o.staleAfterMs ?? 6 * 3_600_000);
    for (const ws of await this.workspaces()) {
      try {
        await this.schedules.store
          .workspace(ws.id)
          .schedules.failStaleRuns(staleBefore, now, STALE_RUN_ERROR);
        started.push(...(await this.schedules.startDue(ws, now)));
      } catch (e) {
        this.o.log?.(`scheduled exports of workspace ${ws.id}: ${(e as Error).message}`);
      }
    }
    return started;
  }

  /** Runs the slots due at `now` and answers them once finished (tests; the timer does the same). */
  async runDue(now: number): Promise<RunRecord[]> {
    return Promise.all(await this.startDue(now));
  }
}
