import { useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { type Change, type Segment, subscribeChanges } from "../api.ts";

/**
 * Keeps the cached segment list's sizes moving with the live stream: each change moves
 * its segment's size by one at once, and the list is re-read (throttled) to stay exact.
 */
export function useLiveSizes(onChange?: (c: Change) => void): void {
  const qc = useQueryClient();
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const stop = subscribeChanges((c) => {
      qc.setQueryData<Segment[]>(["segments"], (old) =>
        old?.map((s) =>
          s.id === c.segment_id ? { ...s, size: Math.max(0, s.size + (c.change === "entered" ? 1 : -1)) } : s,
        ),
      );
      onChange?.(c);
      if (!timer) {
        timer = setTimeout(() => {
          timer = null;
          void qc.invalidateQueries({ queryKey: ["segments"] });
        }, 1500);
      }
    });
    return () => {
      stop();
      if (timer) clearTimeout(timer);
    };
  }, [qc, onChange]);
}
