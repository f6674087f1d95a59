/** Events imports: NDJSON read line by line, each line one JSON object. */
import { StringDecoder } from "node:string_decoder";
import {
  type EventImportRow,
  ImportFileError,
  type ImportInput,
  type ImportRowFailure,
  MAX_IMPORT_ROW_BYTES,
} from "./import-types.ts";

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return `a ${typeof v}`;
}

/** Lines of a text stream, numbered from 1; a line longer than the limit is reported, not kept. */
async function* lines(input: ImportInput): AsyncGenerator<{ line: number; text: string | null }> {
  const decoder = new StringDecoder("utf8");
  let pending = "";
  let overflow = false;
  let n = 0;
  let first = true;
  const take = function* (s: string, end: boolean): Generator<{ line: number; text: string | null }> {
    if (first && s.length > 0) {
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
      first = false;
    }
    let start = 0;
    for (let i = s.indexOf("\n"); i !== -1; i = s.indexOf("\n", start)) {
      const long = overflow || pending.length + (i - start) > MAX_IMPORT_ROW_BYTES;
      const text = long ? null : pending + s.slice(start, i);
      pending = "";
      overflow = false;
      yield { line: ++n, text };
      start = i + 1;
    }
    if (!overflow) pending += s.slice(start);
    if (pending.length > MAX_IMPORT_ROW_BYTES) {
      overflow = true;
      pending = "";
    }
    if (end && (pending !== "" || overflow)) {
      yield { line: ++n, text: overflow ? null : pending };
      pending = "";
    }
  };
  for await (const chunk of input) {
    yield* take(typeof chunk === "string" ? chunk : decoder.write(chunk as Buffer), false);
  }
  yield* take(decoder.end(), true);
}

/**
 * The events of an NDJSON file: one JSON object per line, numbered from 1. Blank lines
 * are skipped (their numbers are not reused); a line that is not JSON, or not an
 * object, comes out as `{row, error}`. Line ends may be `\n` or `\r\n`; a UTF-8 BOM is
 * ignored. Throws ImportFileError when the input fails to read.
 */
export async function* parseEventsNdjson(
  input: ImportInput,
): AsyncGenerator<EventImportRow | ImportRowFailure> {
  try {
    for await (const { line, text } of lines(input)) {
      if (text === null) {
        yield { row: line, error: `the line is longer than ${MAX_IMPORT_ROW_BYTES} characters` };
        continue;
      }
      const t = text.trim();
      if (t === "") continue;
      let v: unknown;
      try {
        v = JSON.parse(t);
      } catch (e) {
        yield { row: line, error: `invalid JSON: ${(e as Error).message}` };
        continue;
      }
      if (v === null || typeof v !== "object" || Array.isArray(v)) {
        yield { row: line, error: `expected a JSON object, got ${describe(v)}` };
        continue;
      }
      yield { row: line, event: v as Record<string, unknown> };
    }
  } catch (e) {
    if (e instanceof ImportFileError) throw e;
    throw new ImportFileError(`the file could not be read: ${(e as Error).message}`);
  }
}
