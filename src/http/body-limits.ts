/**
 * Limits on request bodies beyond their size: nesting depth. Validation, rules and
 * property walks are recursive, so a body nested thousands deep would overflow the stack
 * in whichever runs first; it is refused here, before any of them, by scans that do not
 * recurse themselves.
 */
import { ApiError } from "../service/errors.ts";

/** Deeper than any rule (12 levels) or property object a client has a reason to send. */
export const MAX_BODY_DEPTH = 64;

const OPEN_OBJ = 123; // {
const OPEN_ARR = 91; // [
const CLOSE_OBJ = 125; // }
const CLOSE_ARR = 93; // ]
const QUOTE = 34; // "
const BACKSLASH = 92; // \

function tooDeep(where: string, extra: Record<string, unknown>): ApiError {
  return new ApiError("invalid_request", `body: nested deeper than ${MAX_BODY_DEPTH} levels at ${where}`, {
    path: "",
    max_depth: MAX_BODY_DEPTH,
    ...extra,
  });
}

/**
 * Throws when JSON text opens more than `max` arrays or objects inside each other. One
 * pass over the characters, skipping strings; malformed text is left to JSON.parse.
 */
export function checkJsonTextDepth(text: string, max = MAX_BODY_DEPTH): void {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Skip the string, to the next quote not escaped (an odd run of backslashes before
      // it): most of a body is strings, and indexOf runs through them natively.
      for (;;) {
        const q = text.indexOf('"', i + 1);
        if (q < 0) return;
        let k = q - 1;
        while (text.charCodeAt(k) === BACKSLASH) k--;
        i = q;
        if ((q - 1 - k) % 2 === 0) break;
      }
    } else if (c === OPEN_OBJ || c === OPEN_ARR) {
      if (++depth > max) throw tooDeep(`${pathAt(text, i)} (offset ${i})`, { offset: i });
    } else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
      depth--;
    }
  }
}

/** The JSONPath of the value opening at `end`: only computed for the error message. */
function pathAt(text: string, end: number): string {
  // Each open container: its kind, and the key or index of the value being read in it.
  const stack: { arr: boolean; key: string | number }[] = [];
  let lastString = "";
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i + 1;
      for (i++; i < end; i++) {
        const s = text.charCodeAt(i);
        if (s === BACKSLASH) i++;
        else if (s === QUOTE) break;
      }
      lastString = text.slice(start, i);
    } else if (c === 58 /* : */) {
      const top = stack[stack.length - 1];
      if (top && !top.arr) top.key = lastString;
    } else if (c === 44 /* , */) {
      const top = stack[stack.length - 1];
      if (top?.arr) top.key = (top.key as number) + 1;
    } else if (c === OPEN_OBJ || c === OPEN_ARR) {
      stack.push({ arr: c === OPEN_ARR, key: c === OPEN_ARR ? 0 : "" });
    } else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
      stack.pop();
    }
  }
  let out = "$";
  for (const f of stack) {
    out += f.arr
      ? `[${f.key}]`
      : /^[A-Za-z_$][\w$]*$/.test(String(f.key))
        ? `.${f.key}`
        : `[${JSON.stringify(f.key)}]`;
    // A message, not a dump: the start of a path thousands of levels long says enough.
    if (out.length > 200) return `${out.slice(0, 200)}…`;
  }
  return out;
}

/**
 * The same limit on a value already parsed (bodies read by other parsers), walked with
 * an explicit stack.
 */
export function checkValueDepth(value: unknown, max = MAX_BODY_DEPTH): void {
  if (value === null || typeof value !== "object") return;
  const stack: { v: object; depth: number; path: string }[] = [{ v: value, depth: 1, path: "$" }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (depth > max) throw tooDeep(path.length > 200 ? `${path.slice(0, 200)}…` : path, {});
    const entries: [string, unknown][] = Array.isArray(v)
      ? v.map((x, i) => [`[${i}]`, x])
      : Object.entries(v).map(([k, x]) => [
          /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`,
          x,
        ]);
    for (const [step, child] of entries) {
      if (child !== null && typeof child === "object") {
        // Paths are only kept while short: beyond that only the depth matters.
        stack.push({ v: child, depth: depth + 1, path: path.length > 200 ? path : path + step });
      }
    }
  }
}
