/**
 * Scheduled exports of a segment (docs/exports.md): create, read, change and delete
 * schedules, their run history, and the run itself (export the segment now, upload it,
 * record rows, bytes, duration and error). Credentials are sealed with SLICE_SECRET_KEY
 * and never read back: reads show the access key id masked and header names only.
 */
import type { Clock } from "../../engine/types.ts";
import type { RunRecord, ScheduleRecord } from "../../store/schedule-repo.ts";
import * as repo from "../../store/schedule-repo.ts";
import type { JsonObject, Store } from "../../store/types.ts";
import { ApiError, invalid, notFound } from "../errors.ts";
import { exportFieldKeys, exportPages } from "../export-members.ts";
import { contentType, type ExportFormat, ExportOptionError, validateExportOptions } from "../exports.ts";
import type { SecretBox } from "../secret-box.ts";
import { checkWebhookUrl } from "../webhook-url.ts";
import { listLimit, parse } from "../wire.ts";
import type { WorkspaceService } from "../workspace.ts";
import { type ExportCount, exportBytes } from "./export-stream.ts";
import {
  checkCron,
  checkTemplate,
  nextSlot,
  renderTemplate,
  ScheduleInput,
  SchedulePatch,
  type TargetInput,
} from "./input.ts";
import { type S3Target, uploadHttp, uploadS3 } from "./targets.ts";

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

export interface WireS3Target {
  kind: "s3";
  bucket: string;
  key: string;
  region: string | null;
  endpoint: string | null;
  force_path_style: boolean | null;
  access_key_id: string;
}

export interface WireHttpTarget {
  kind: "http";
  url: string;
  headers: Record<string, string>;
}

export interface WireSchedule {
  id: string;
  name: string;
  segment_id: string;
  format: ExportFormat;
  columns: string[] | null;
  exclude_suppressed: boolean;
  cron: string;
  time_zone: string;
  state: repo.ScheduleState;
  target: WireS3Target | WireHttpTarget;
  next_run_at: string | null;
  last_run_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface WireRun {
  id: string;
  schedule_id: string;
  state: repo.RunState;
  scheduled_for: string;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  rows: number;
  bytes: number;
  location: string | null;
  error: string | null;
}

const MASK = "****";
const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/** Enough of a key id to tell which one it is, never the whole. */
export function maskKeyId(id: string): string {
  return id.length >= 12 ? `${id.slice(0, 4)}${MASK}${id.slice(-4)}` : MASK;
}

function originOf(template: string): string {
  try {
    return new URL(template.replace(/\{[a-z_]+\}/g, "x")).origin;
  } catch {
    return "";
  }
}

export function wireRun(r: RunRecord): WireRun {
  return {
    id: r.id,
    schedule_id: r.schedule_id,
    state: r.state,
    scheduled_for: new Date(r.scheduled_for).toISOString(),
    started_at: new Date(r.started_at).toISOString(),
    finished_at: iso(r.finished_at),
    duration_ms: r.finished_at === null ? null : r.finished_at - r.started_at,
    rows: r.rows_written,
    bytes: r.bytes_written,
    location: r.location,
    error: r.error,
  };
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Set by the upload itself; a second value would make an invalid request. */
const RESERVED_HEADERS = new Set(["host", "content-length", "transfer-encoding", "connection"]);

interface StoredTarget {
  target: JsonObject;
  /** Sealed credentials, or "" for none. */
  sealed: string;
}

export class ScheduleService {
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(private readonly o: ScheduleServiceOptions) {}

  get store(): Store {
    return this.o.store;
  }

  get clock(): Clock {
    return this.o.clock;
  }

  private x(ws: string) {
    return this.o.store.executorFor(ws);
  }

  // ---------------------------------------------------------------- reads

  wire(s: ScheduleRecord, timeZone: string): WireSchedule {
    const t = s.target;
    const target: WireS3Target | WireHttpTarget =
      t.kind === "s3"
        ? {
            kind: "s3",
            bucket: String(t.bucket),
            key: String(t.key),
            region: typeof t.region === "string" ? t.region : null,
            endpoint: typeof t.endpoint === "string" ? t.endpoint : null,
            force_path_style: typeof t.force_path_style === "boolean" ? t.force_path_style : null,
            access_key_id: String(t.access_key_id_masked ?? MASK),
          }
        : {
            kind: "http",
            url: String(t.url),
            headers: Object.fromEntries(
              (Array.isArray(t.header_names) ? t.header_names : []).map((n) => [String(n), MASK]),
            ),
          };
    const opts = s.options;
    return {
      id: s.id,
      name: s.name,
      segment_id: s.segment_id,
      format: s.format as ExportFormat,
      columns: Array.isArray(opts.columns) ? opts.columns.map(String) : null,
      exclude_suppressed: opts.exclude_suppressed !== false,
      cron: s.cron,
      time_zone: timeZone,
      state: s.state,
      target,
      next_run_at: iso(s.next_run_at),
      last_run_at: iso(s.last_run_at),
      created_at: new Date(s.created_at).toISOString(),
      updated_at: new Date(s.updated_at).toISOString(),
    };
  }

  private async record(ws: WorkspaceService, id: string): Promise<ScheduleRecord> {
    const s = await repo.getSchedule(this.x(ws.id), ws.id, id);
    if (!s) throw notFound("export schedule", id);
    return s;
  }

  async list(ws: WorkspaceService): Promise<WireSchedule[]> {
    return (await repo.listSchedules(this.x(ws.id), ws.id)).map((s) => this.wire(s, ws.timeZone));
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
    const page = await repo.listRuns(this.x(ws.id), ws.id, id, {
      limit,
      ...(before !== undefined ? { before } : {}),
    });
    return { data: page.data.map(wireRun), next_cursor: page.next_cursor };
  }

  /** Schedules exporting a segment: what refers to it, for the segment delete guard. */
  async usersOf(ws: string, segmentId: string): Promise<{ type: string; id: string }[]> {
    return (await repo.listSchedules(this.x(ws), ws))
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

  private async checkUrl(url: string, path: string): Promise<void> {
    // Placeholders are checked here and filled in at run time.
    checkTemplate(url, path);
    const sample = url.replace(/\{[a-z_]+\}/g, "x");
    let u: URL;
    try {
      u = new URL(sample);
    } catch {
      throw invalid(path, "expected an absolute https URL");
    }
    const insecure = this.o.allowInsecureHttp === true;
    if (u.protocol !== "https:" && !(insecure && u.protocol === "http:")) {
      throw invalid(path, insecure ? "must use http or https" : "must use https");
    }
    if (u.username || u.password) throw invalid(path, "must not hold credentials: use headers");
    const problem = await checkWebhookUrl(sample, { denyPrivate: this.o.denyPrivate ?? true });
    if (problem) throw invalid(path, problem.replace(/^url /, ""));
  }

  /** Names resolve again at each run: one that now points at a private address is refused. */
  private async checkReachable(url: string): Promise<void> {
    if (this.o.denyPrivate === false) return;
    const problem = await checkWebhookUrl(url, { denyPrivate: true });
    if (problem) throw new Error(problem);
  }

  private seal(secrets: Record<string, string>, path: string): string {
    if (!this.o.box) {
      throw invalid(
        path,
        "SLICE_SECRET_KEY is not set: credentials cannot be stored encrypted. Set it (at least 16 characters) and restart",
      );
    }
    return this.o.box.seal(secrets);
  }

  private open(sealed: string): Record<string, string> {
    if (sealed === "") return {};
    if (!this.o.box)
      throw new Error("SLICE_SECRET_KEY is not set: the schedule's credentials cannot be opened");
    return this.o.box.open(sealed);
  }

  /** The target to store and its credentials; `before` gives credentials left out of a change. */
  private async target(t: TargetInput, before: ScheduleRecord | null): Promise<StoredTarget> {
    const kept = before && before.target.kind === t.kind ? before : null;
    if (t.kind === "s3") {
      checkTemplate(t.key, "target.key");
      if (t.endpoint !== undefined) await this.checkUrl(t.endpoint, "target.endpoint");
      let sealed: string;
      let masked: string;
      if (t.access_key_id === undefined && t.secret_access_key === undefined && kept) {
        if ((kept.target.endpoint ?? null) !== (t.endpoint ?? null)) {
          throw invalid(
            "target.access_key_id",
            "required with a new endpoint: stored credentials stay with theirs",
          );
        }
        sealed = kept.secrets;
        masked = String(kept.target.access_key_id_masked ?? MASK);
      } else {
        if (t.access_key_id === undefined) throw invalid("target.access_key_id", "required");
        if (t.secret_access_key === undefined) throw invalid("target.secret_access_key", "required");
        sealed = this.seal(
          { access_key_id: t.access_key_id, secret_access_key: t.secret_access_key },
          "target.secret_access_key",
        );
        masked = maskKeyId(t.access_key_id);
      }
      const target: JsonObject = { kind: "s3", bucket: t.bucket, key: t.key, access_key_id_masked: masked };
      if (t.region !== undefined) target.region = t.region;
      if (t.endpoint !== undefined) target.endpoint = t.endpoint;
      if (t.force_path_style !== undefined) target.force_path_style = t.force_path_style;
      return { target, sealed };
    }
    await this.checkUrl(t.url, "target.url");
    if (t.headers === undefined && kept) {
      const names = Array.isArray(kept.target.header_names) ? kept.target.header_names : [];
      // Stored header values (tokens) are never sent to another host than they were given for.
      if (names.length > 0 && originOf(String(kept.target.url)) !== originOf(t.url)) {
        throw invalid(
          "target.headers",
          "required with a URL of another origin: stored headers stay with theirs",
        );
      }
      return {
        target: { kind: "http", url: t.url, header_names: kept.target.header_names ?? [] },
        sealed: kept.secrets,
      };
    }
    const headers = t.headers ?? {};
    for (const [name, value] of Object.entries(headers)) {
      const path = `target.headers.${name}`;
      if (!HEADER_NAME.test(name)) throw invalid(path, "invalid header name");
      if (RESERVED_HEADERS.has(name.toLowerCase())) throw invalid(path, "set by the upload itself");
      if (/[\r\n\0]/.test(value)) throw invalid(path, "a header value must not hold line breaks");
    }
    const names = Object.keys(headers);
    return {
      target: { kind: "http", url: t.url, header_names: names },
      sealed: names.length > 0 ? this.seal(headers, "target.headers") : "",
    };
  }

  private requireSegment(ws: WorkspaceService, segmentId: string): void {
    if (!ws.engine.segment(segmentId)) {
      throw new ApiError("not_found", `segment_id: segment "${segmentId}" not found`, { path: "segment_id" });
    }
  }

  async create(ws: WorkspaceService, body: unknown): Promise<WireSchedule> {
    const input = parse(ScheduleInput, body);
    const now = this.o.clock.now();
    this.requireSegment(ws, input.segment_id);
    const format = input.format ?? "csv";
    const exclude = input.exclude_suppressed ?? true;
    this.checkOptions(ws, format, input.columns, exclude);
    checkCron(input.cron, ws.timeZone, now);
    const t = await this.target(input.target, null);
    const rec = await repo.createSchedule(
      this.x(ws.id),
      ws.id,
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

  async update(ws: WorkspaceService, id: string, body: unknown): Promise<WireSchedule> {
    const input = parse(SchedulePatch, body ?? {});
    const before = await this.record(ws, id);
    const now = this.o.clock.now();
    const patch: repo.SchedulePatch = {};
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
      const t = await this.target(input.target, before);
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
    const updated = await repo.updateSchedule(this.x(ws.id), ws.id, id, patch, now);
    if (!updated) throw notFound("export schedule", id);
    return this.wire(updated, ws.timeZone);
  }

  async delete(ws: WorkspaceService, id: string): Promise<void> {
    if (!(await repo.deleteSchedule(this.x(ws.id), ws.id, id))) throw notFound("export schedule", id);
  }

  // ---------------------------------------------------------------- runs

  /**
   * Starts a run now, whatever the schedule's state; answers the run as started. The
   * export and upload go on after the answer (`drain` waits for them).
   */
  async runNow(ws: WorkspaceService, id: string): Promise<WireRun> {
    const s = await this.record(ws, id);
    const now = this.o.clock.now();
    const run = await repo.claimRun(this.x(ws.id), ws.id, id, now, now);
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
    const x = this.x(ws.id);
    const started: Promise<RunRecord>[] = [];
    for (const s of await repo.dueSchedules(x, ws.id, now)) {
      const slot = s.next_run_at!;
      let next: number | null;
      try {
        next = nextSlot(s.cron, ws.timeZone, now);
      } catch (e) {
        // Stored expressions were checked; a time zone that no longer reads stops the schedule.
        this.o.log?.(`export schedule ${s.id}: ${(e as Error).message}`);
        next = null;
      }
      const run = await repo.claimRun(x, ws.id, s.id, slot, this.o.clock.now(), { from: slot, to: next });
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
    let outcome: repo.RunOutcome;
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
      await repo.finishRun(this.x(ws.id), ws.id, run.id, outcome);
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
        exportPages(this.o.store, ws, ws.engine.members(s.segment_id).ids()),
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
    const secrets = this.open(s.secrets);
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
      if (target.endpoint) await this.checkReachable(target.endpoint);
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
    await this.checkReachable(url);
    await uploadHttp(url, secrets, body, type);
    const u = new URL(url);
    // The query string may carry a token: the location shows the address without it.
    return `${u.origin}${u.pathname}`;
  }
}
