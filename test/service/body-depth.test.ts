/**
 * The nesting-depth scan of request bodies (src/http/body-limits.ts) jumps over strings
 * with indexOf: it must find exactly what a character-by-character scan finds, escaped
 * quotes and runs of backslashes included, on well-formed and malformed text.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkJsonTextDepth } from "../../src/http/body-limits.ts";

/** The scan one character at a time: the offset of the first container past `max`, or -1. */
function tooDeepAt(text: string, max: number): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length; i++) {
        if (text[i] === "\\") i++;
        else if (text[i] === '"') break;
      }
    } else if (c === "{" || c === "[") {
      if (++depth > max) return i;
    } else if (c === "}" || c === "]") depth--;
  }
  return -1;
}

function scanned(text: string, max: number): number {
  try {
    checkJsonTextDepth(text, max);
    return -1;
  } catch (e) {
    return (e as { details?: { offset?: number } }).details?.offset ?? Number.NaN;
  }
}

describe("checkJsonTextDepth", () => {
  // Strings full of what confuses a skip: quotes after runs of backslashes, brackets.
  const tricky = fc
    .array(fc.constantFrom("\\", '"', "[", "{", "]", "}", "a", "\\\\", '\\"', ","), { maxLength: 30 })
    .map((parts) => parts.join(""));
  const json = fc.oneof(
    fc.json({ depthSize: "large" }),
    fc.jsonValue({ depthSize: "large" }).map((v) => JSON.stringify(v)),
    fc.array(fc.string({ unit: fc.constantFrom("[", "{", '"', "\\", "a") })).map((v) => JSON.stringify(v)),
  );

  it("finds what a scan character by character finds", () => {
    fc.assert(
      fc.property(fc.oneof(json, tricky), fc.integer({ min: 0, max: 6 }), (text, max) => {
        expect(scanned(text, max)).toBe(tooDeepAt(text, max));
      }),
      { numRuns: 5_000 },
    );
  });

  it("skips brackets inside strings whatever backslashes precede their quotes", () => {
    expect(scanned(JSON.stringify({ a: '\\"[[[[' }), 1)).toBe(-1);
    const evenRun = `${JSON.stringify({ a: "\\\\" })}[[`;
    expect(scanned(evenRun, 1)).toBe(tooDeepAt(evenRun, 1));
    expect(scanned('["\\\\\\"[[", [[]]]', 2)).toBe(tooDeepAt('["\\\\\\"[[", [[]]]', 2));
    expect(scanned('["unterminated [[[[', 1)).toBe(-1);
  });
});
