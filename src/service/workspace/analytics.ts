/**
 * A segment's analytics as the API answers them (docs/analytics.md): the log brought
 * up to the engine first, and the computation's refusals as the API's errors.
 */
import { AnalyticsError, type SegmentAnalytics } from "../analytics.ts";
import { ApiError, invalid } from "../errors.ts";
import type { WorkspaceCore } from "./core.ts";

/** The request's names of `SegmentAnalyticsArgs`' options, for the paths of errors. */
const PARAMS: Record<string, string> = { breakdownField: "breakdown", overlapWith: "overlap" };

export async function analytics(
  ws: WorkspaceCore,
  segmentId: string,
  req: { days?: number; top?: number; breakdown?: string; overlap?: string },
): Promise<SegmentAnalytics> {
  try {
    // The daily figures come from the change log: bring it up to the engine first.
    await ws.live.tick();
    return await ws.engine.analytics({
      store: ws.store,
      ws: ws.id,
      segmentId,
      timeZone: ws.timeZone,
      now: ws.clock.now(),
      ...(req.days !== undefined ? { days: req.days } : {}),
      ...(req.top !== undefined ? { top: req.top } : {}),
      ...(req.breakdown ? { breakdownField: req.breakdown } : {}),
      ...(req.overlap ? { overlapWith: req.overlap } : {}),
    });
  } catch (e) {
    if (e instanceof AnalyticsError) {
      if (e.code === "not_found") throw new ApiError("not_found", e.message);
      throw invalid(PARAMS[e.path] ?? e.path, e.message);
    }
    throw e;
  }
}
