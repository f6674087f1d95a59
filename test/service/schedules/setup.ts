/**
 * A workspace in Europe/Paris over a real SQLite file, with three contacts (one
 * unsubscribed), a movable clock, the schedules service and its runner. The workspace
 * is opened once per test file (`openTestWorkspace`: rebuilding its engine is the slow
 * part); each test gets its own services and leaves no schedule behind (`setup`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ScheduleInput, SchedulePatch } from "../../../src/service/schedules/input.ts";
import { ScheduleRunner } from "../../../src/service/schedules/runner.ts";
import {
  ScheduleService,
  type ScheduleServiceOptions,
  type WireSchedule,
} from "../../../src/service/schedules/service.ts";
import { SecretBox } from "../../../src/service/secret-box.ts";
import { parse } from "../../../src/service/wire.ts";
import { WorkspaceService } from "../../../src/service/workspace.ts";
import { openStore } from "../../../src/store/index.ts";
import type { Store } from "../../../src/store/types.ts";

export const ZONE = "Europe/Paris";
export const SECRET_KEY = "schedules-test-secret-key";

let now = 0;
const clock = {
  now: () => now,
  set: (t: number | string) => {
    now = typeof t === "number" ? t : Date.parse(t);
  },
};

export interface TestWorkspace {
  store: Store;
  ws: WorkspaceService;
  close(): Promise<void>;
}

/** Over a fresh SQLite file, or the PostgreSQL database of `databaseUrl`. */
export async function openTestWorkspace(databaseUrl?: string): Promise<TestWorkspace> {
  const dir = mkdtempSync(join(tmpdir(), "slice-schedules-"));
  clock.set("2026-01-01T00:00:00Z");
  const store = await openStore(
    databaseUrl ? { databaseUrl, clock } : { sqlitePath: join(dir, "slice.db"), clock },
  );
  const info = await store.createWorkspace({ name: "exports", time_zone: ZONE });
  await store.workspace(info.id).contacts.put([
    { id: "c1", email: "ann@example.com", first_name: "Ann", status: "subscribed" },
    { id: "c2", email: "bob@example.com", first_name: 'Bob, "Jr"\nthe 2nd', status: "subscribed" },
    { id: "c3", email: "cy@example.com", first_name: "Cy", status: "unsubscribed" },
  ]);
  const ws = await WorkspaceService.open(store, info, { clock });
  return {
    store,
    ws,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Env {
  store: Store;
  ws: WorkspaceService;
  clock: { now(): number; set(t: number | string): void };
  schedules: ScheduleService;
  /** A request body as the route takes it: parsed with the route's schema, then the service. */
  create(body: unknown): Promise<WireSchedule>;
  update(id: string, body: unknown): Promise<WireSchedule>;
  runner: ScheduleRunner;
  /** Another service and runner over the same store: a second process. */
  second(): { schedules: ScheduleService; runner: ScheduleRunner };
  close(): Promise<void>;
}

export async function setup(
  tw: TestWorkspace,
  start: string,
  opts: Partial<ScheduleServiceOptions> = {},
): Promise<Env> {
  clock.set(start);
  const { store, ws } = tw;
  const make = () => {
    const schedules = new ScheduleService({
      store,
      workspace: async () => ws,
      clock,
      box: new SecretBox(SECRET_KEY),
      allowInsecureHttp: true,
      // Targets and S3 stand-ins listen on 127.0.0.1.
      denyPrivate: false,
      ...opts,
    });
    return { schedules, runner: new ScheduleRunner(schedules, async () => [ws]) };
  };
  const { schedules, runner } = make();
  return {
    store,
    ws,
    clock,
    schedules,
    create: async (body) => schedules.create(ws, parse(ScheduleInput, body)),
    update: async (id, body) => schedules.update(ws, id, parse(SchedulePatch, body ?? {})),
    runner,
    second: make,
    async close() {
      await runner.stop();
      const repo = store.workspace(ws.id).schedules;
      for (const s of await repo.list()) await repo.delete(s.id);
    },
  };
}
