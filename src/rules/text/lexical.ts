/**
 * The lexical rules the printer must agree with the grammar on: a string the printer
 * writes bare must come back from the parser as exactly that string.
 */

/** Words that join conditions; a name spelled like one (any case) must be quoted. */
export const RESERVED_WORDS: ReadonlySet<string> = new Set(["and", "or", "not"]);

/** A bare word: event types and the parts of a dotted name. */
export const WORD_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A bare dotted name: fields, property paths, segment ids. */
export const PATH_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** A date or instant written without quotes; it stands for the same string. */
export const DATE_TOKEN_RE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:.]+(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?$/;

export function isReserved(name: string): boolean {
  return RESERVED_WORDS.has(name.toLowerCase());
}
