/** A rule text that could not be read, with where and why. */
export class RuleTextError extends Error {
  override readonly name = "RuleTextError";
  /** 1-based line of the problem. */
  readonly line: number;
  /** 1-based column (in UTF-16 code units) of the problem. */
  readonly column: number;
  /** The offending line, then a `^` under the column. */
  readonly caret: string;

  constructor(text: string, line: number, column: number, message: string) {
    super(message);
    this.line = line;
    this.column = column;
    this.caret = caretFor(text, line, column);
  }

  /** The message with its position and caret, as a CLI prints it. */
  format(): string {
    return `line ${this.line}, column ${this.column}: ${this.message}\n${this.caret}`;
  }
}

function caretFor(text: string, line: number, column: number): string {
  const src = (text.split("\n")[line - 1] ?? "").replace(/\r$/, "");
  // Tabs are kept so the caret lines up however wide the reader shows them.
  const pad = src.slice(0, column - 1).replace(/[^\t]/g, " ");
  return `${src}\n${pad}${" ".repeat(Math.max(0, column - 1 - pad.length))}^`;
}
