import { useEffect, useRef, useState } from "react";

/**
 * `value`, debounced on both edges: a change after `wait` ms of quiet passes at once (a
 * pick in a list previews immediately), changes in quick succession (typing) pass `wait`
 * ms after the last one.
 */
export function useDebounced<T>(value: T, wait: number): T {
  const [out, setOut] = useState(value);
  const last = useRef(Number.NEGATIVE_INFINITY);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => {
    const now = performance.now();
    const quiet = now - last.current >= wait;
    last.current = now;
    clearTimeout(timer.current);
    if (quiet) setOut(value);
    else timer.current = setTimeout(() => setOut(value), wait);
  }, [value, wait]);
  useEffect(() => () => clearTimeout(timer.current), []);
  return out;
}
