/**
 * Scheduled exports of a segment (docs/exports.md): create, read, change and delete
 * schedules, their run history, and the run itself (export the segment now, upload it,
 * record rows, bytes, duration and error). Credentials are sealed with SLICE_SECRET_KEY
 * and never read back: reads show the access key id masked and header names only.
 */
import type { Clock } from "../../engine/types.ts";
import type {
  RunOutcome,
  RunRecord,
  ScheduleRecord,
  SchedulePatch as StoredPatch,
} from "../../store/model/schedule.ts";
import type { Store } from "../../store/types.ts";
import { ApiError, invalid, notFound } from "../errors.ts";
import { exportFieldKeys, exportPages } from "../export-members.ts";
import { contentType, type ExportFormat, ExportOptionError, validateExportOptions } from "../exports.ts";
import type { SecretBox } from "../secret-box.ts";
import { listLimit } from "../wire.ts";
import type { WorkspaceService } from "../workspace.ts";
import { type ExportCount, exportBytes } from "./export-stream.ts";
import { checkCron, nextSlot, renderTemplate, type ScheduleInput, type SchedulePatch } from "./input.ts";
import { StoredTargets } from "./stored-target.ts";
import { type S3Target, uploadHttp, uploadS3 } from "./targets.ts";
import { iso, type WireRun, type WireSchedule, wireRun, wireSchedule } from "./wire.ts";

export type { WireHttpTarget, WireRun, WireS3Target, WireSchedule } from "./wire.ts";
export { maskKeyId, wireRun } from "./wire.ts";

export interface ScheduleServiceOptions {
  store: Store;
  /** The open service of a workspace (Slice.workspace). */
  workspace(id: string): Promise<WorkspaceService>;
  clock: Clock;
  /** `secretBoxOf(SLICE_SECRET_KEY)`: null refuses credentials. */
  box: SecretBox | null;
  /** Tests: `http:` URLs for http targets and S3 endpoints (default: https only for http targets). */
  allowInsecureHttp?: boolean;
  /**
   * Refuse loopback, private and link-local target addresses (default true; false under
   * `SLICE_WEBHOOK_ALLOW_PRIVATE=1`).
   */
  denyPrivate?: boolean;
  log?: (line: string) => void;
}

export class ScheduleService {
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly targets: StoredTargets;

  constructor(private readonly o: ScheduleServiceOptions) {
    this.targets = new StoredTargets(o);
  }

  get store(): Store {
    return this.o.store;
  }

  get clock(): Clock {
    return this.o.clock;
  }

  private repo(ws: string) {
    return this.o.store.workspace(ws).schedules;
  }

  // ---------------------------------------------------------------- reads

  wire(s: ScheduleRecord, timeZone: string): WireSchedule {
    return wireSchedule(s, timeZone);
  }

  private async record(ws: WorkspaceService, id: string): Promise<ScheduleRecord> {
    const s = await this.repo(ws.id).get(id);
    if (!s) throw notFound("export schedule", id);
    return s;
  }

  async list(ws: WorkspaceService): Promise<WireSchedule[]> {
    return (await this.repo(ws.id).list()).map((s) => this.wire(s, ws.timeZone));
  }

  async get(ws: WorkspaceService, id: string): Promise<WireSchedule> {
    return this.wire(await this.record(ws, id), ws.timeZone);
  }

  async runs(
    ws: WorkspaceService,
    id: string,
    req: { limit?: string; cursor?: string },
  ): Promise<{ data: WireRun[]; next_cursor: string | null }> {
    await this.record(ws, id);
    const limit = listLimit(req.limit);
    let before: number | undefined;
    if (req.cursor !== undefined && req.cursor !== "") {
      if (!/^\d{1,16}$/.test(req.cursor)) throw invalid("cursor", `invalid cursor "${req.cursor}"`);
      before = Number(req.cursor);
    }
    const page = await this.repo(ws.id).listRuns(id, {
      limit,
      ...(before !== undefined ? { before } : {}),
    });
    return { data: page.data.map(wireRun), next_cursor: page.next_cursor };
  }

  /** Schedules exporting a segment: what refers to it, for the segment delete guard. */
  async usersOf(ws: string, segmentId: string): Promise<{ type: string; id: string }[]> {
    return (await this.repo(ws).list())
      .filter((s) => s.segment_id === segmentId)
      .map((s) => ({ type: "export_schedule", id: s.id }));
  }

  // ---------------------------------------------------------------- writes

  private checkOptions(
    ws: WorkspaceService,
    format: ExportFormat,
    columns: string[] | undefined,
    exclude: boolean,
  ): void {
    try {
      validateExportOptions({
        format,
        ...exportFieldKeys(ws),
        excludeSuppressed: exclude,
        ...(columns ? { columns } : {}),
      });
    } catch (e) {
      if (e instanceof ExportOptionError) throw invalid(e.path, e.message);
      throw e;
    }
  }

  private requireSegment(ws: WorkspaceService, segmentId: string): void {
    if (!ws.engine.segment(segmentId)) {
      throw new ApiError("not_found", `segment_id: segment "${segmentId}" not found`, { path: "segment_id" });
    }
  }

  async create(ws: WorkspaceService, input: ScheduleInput): Promise<WireSchedule> {
    const now = this.o.clock.now();
    this.requireSegment(ws, input.segment_id);
    const format = input.format ?? "csv";
    const exclude = input.exclude_suppressed ?? true;
    this.checkOptions(ws, format, input.columns, exclude);
    checkCron(input.cron, ws.timeZone, now);
    const t = await this.targets.stored(input.target, null);
    const rec = await this.repo(ws.id).create(
      {
        name: input.name ?? `Export of ${input.segment_id}`,
        segment_id: input.segment_id,
        format,
        options: { ...(input.columns ? { columns: input.columns } : {}), exclude_suppressed: exclude },
        cron: input.cron,
        target: t.target,
        secrets: t.sealed,
        state: "active",
        next_run_at: nextSlot(input.cron, ws.timeZone, now),
      },
      now,
    );
    return this.wire(rec, ws.timeZone);
  }

  async update(ws: WorkspaceService, id: string, input: SchedulePatch): Promise<WireSchedule> {
    const before = await this.record(ws, id);
    const now = this.o.clock.now();
    const patch: StoredPatch = {};
    if (input.name !== undefined) patch.name = input.name;
    if (input.columns !== undefined || input.exclude_suppressed !== undefined) {
      const columns =
        input.columns === null
          ? undefined
          : (input.columns ??
            (Array.isArray(before.options.columns) ? before.options.columns.map(String) : undefined));
      const exclude = input.exclude_suppressed ?? before.options.exclude_suppressed !== false;
      this.checkOptions(ws, before.format as ExportFormat, columns, exclude);
      patch.options = { ...(columns ? { columns } : {}), exclude_suppressed: exclude };
    }
    if (input.cron !== undefined) {
      checkCron(input.cron, ws.timeZone, now);
      patch.cron = input.cron;
    }
    if (input.target !== undefined) {
      const t = await this.targets.stored(input.target, before);
      patch.target = t.target;
      patch.secrets = t.sealed;
    }
    const state = input.state ?? before.state;
    patch.state = state;
    // Slots passed while paused are not made up for: the next one is counted from now.
    if (state === "paused") patch.next_run_at = null;
    else if (input.cron !== undefined || before.state === "paused") {
      patch.next_run_at = nextSlot(patch.cron ?? before.cron, ws.timeZone, now);
    }
    const updated = await this.repo(ws.id).update(id, patch, now);
    if (!updated) throw notFound("export schedule", id);
    return this.wire(updated, ws.timeZone);
  }

  async delete(ws: WorkspaceService, id: string): Promise<void> {
    if (!(await this.repo(ws.id).delete(id))) throw notFound("export schedule", id);
  }

  // ---------------------------------------------------------------- runs

  /**
   * Starts a run now, whatever the schedule's state; answers the run as started. The
   * export and upload go on after the answer (`drain` waits for them).
   */
  async runNow(ws: WorkspaceService, id: string): Promise<WireRun> {
    const s = await this.record(ws, id);
    const now = this.o.clock.now();
    const run = await this.repo(ws.id).claimRun(id, now, now);
    if (!run) throw new ApiError("conflict", `export schedule "${id}" already has a run at ${iso(now)}`);
    void this.track(this.execute(ws, s, run));
    return wireRun(run);
  }

  /**
   * Claims the due slots of a workspace's schedules (each slot once, whoever else
   * tries) and sets each schedule's next slot after `now`: slots missed while no process
   * ran collapse into the one run. Answers the runs started, and their completion.
   */
  async startDue(ws: WorkspaceService, now: number): Promise<Promise<RunRecord>[]> {
    const repo = this.repo(ws.id);
    const started: Promise<RunRecord>[] = [];
    for (const s of await repo.due(now)) {
      const slot = s.next_run_at!;
      let next: number | null;
      try {
        next = nextSlot(s.cron, ws.timeZone, now);
      } catch (e) {
        // Stored expressions were checked; a time zone that no longer reads stops the schedule.
        this.o.log?.(`export schedule ${s.id}: ${(e as Error).message}`);
        next = null;
      }
      const run = await repo.claimRun(s.id, slot, this.o.clock.now(), { from: slot, to: next });
      if (run) started.push(this.track(this.execute(ws, s, run)));
    }
    return started;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  /** Waits for every run started by this service to end. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Exports the segment, uploads it and records the outcome; never throws for the run's own failure. */
  async execute(ws: WorkspaceService, s: ScheduleRecord, run: RunRecord): Promise<RunRecord> {
    const count: ExportCount = { rows: 0, bytes: 0 };
    let outcome: RunOutcome;
    try {
      const location = await this.upload(ws, s, run, count);
      outcome = {
        state: "succeeded",
        rows_written: count.rows,
        bytes_written: count.bytes,
        location,
        error: null,
        finished_at: this.o.clock.now(),
      };
    } catch (e) {
      outcome = {
        state: "failed",
        rows_written: count.rows,
        bytes_written: count.bytes,
        location: null,
        error: (e as Error).message || String(e),
        finished_at: this.o.clock.now(),
      };
      this.o.log?.(`export schedule ${s.id}: run ${run.id} failed: ${outcome.error}`);
    }
    try {
      await this.repo(ws.id).finishRun(run.id, outcome);
    } catch (e) {
      this.o.log?.(`export schedule ${s.id}: run ${run.id} not recorded: ${(e as Error).message}`);
    }
    return { ...run, ...outcome };
  }

  private async upload(
    ws: WorkspaceService,
    s: ScheduleRecord,
    run: RunRecord,
    count: ExportCount,
  ): Promise<string> {
    if (!ws.engine.segment(s.segment_id)) throw new Error(`segment "${s.segment_id}" not found`);
    const format = s.format as ExportFormat;
    const columns = Array.isArray(s.options.columns) ? s.options.columns.map(String) : undefined;
    let body: AsyncIterable<Buffer>;
    try {
      body = exportBytes(
        exportPages(this.o.store, ws, (await ws.engine.members(s.segment_id)).ids()),
        {
          format,
          ...exportFieldKeys(ws),
          excludeSuppressed: s.options.exclude_suppressed !== false,
          ...(columns ? { columns } : {}),
        },
        count,
      );
    } catch (e) {
      if (e instanceof ExportOptionError) throw new Error(`${e.path}: ${e.message}`);
      throw e;
    }
    const secrets = this.targets.open(s.secrets);
    const vars = {
      slot: run.scheduled_for,
      timeZone: ws.timeZone,
      segmentId: s.segment_id,
      scheduleId: s.id,
    };
    const type = contentType(format);
    const t = s.target;
    if (t.kind === "s3") {
      const target: S3Target = {
        kind: "s3",
        bucket: String(t.bucket),
        key: String(t.key),
        ...(typeof t.region === "string" ? { region: t.region } : {}),
        ...(typeof t.endpoint === "string" ? { endpoint: t.endpoint } : {}),
        ...(typeof t.force_path_style === "boolean" ? { force_path_style: t.force_path_style } : {}),
      };
      if (target.endpoint) await this.targets.checkReachable(target.endpoint);
      const key = renderTemplate(target.key, vars);
      return uploadS3(
        target,
        { access_key_id: secrets.access_key_id ?? "", secret_access_key: secrets.secret_access_key ?? "" },
        key,
        body,
        type,
      );
    }
    const url = renderTemplate(String(t.url), vars, encodeURIComponent);
    await this.targets.checkReachable(url);
    await uploadHttp(url, secrets, body, type);
    const u = new URL(url);
    // The query string may carry a token: the location shows the address without it.
    return `${u.origin}${u.pathname}`;
  }
}
