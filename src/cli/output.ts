/**
 * Terminal output of the CLI: colour only on a terminal (and never with `NO_COLOR`;
 * `FORCE_COLOR` forces it), numbers with thousands separators, plain aligned tables.
 */

export interface Out {
  /** A line of results (stdout). */
  line(s?: string): void;
  /** A line of progress or notes (stderr), kept out of piped results. */
  note(s: string): void;
  color: boolean;
}

export function colorEnabled(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return Boolean(stream.isTTY);
}

export function stdio(): Out {
  return {
    line: (s = "") => process.stdout.write(`${s}\n`),
    note: (s) => process.stderr.write(`${s}\n`),
    color: colorEnabled(process.stdout),
  };
}

const CODES = { green: [32, 39], red: [31, 39], dim: [2, 22], bold: [1, 22], yellow: [33, 39] } as const;
export type Style = keyof typeof CODES;

export function paint(on: boolean, style: Style, s: string): string {
  if (!on) return s;
  const [a, b] = CODES[style];
  return `\u001b[${a}m${s}\u001b[${b}m`;
}

export const num = (n: number): string => n.toLocaleString("en");

/** Columns padded to their widest cell; the last column is not padded. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, [...c].length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c + " ".repeat(widths[i]! - [...c].length)))
      .join("  ")
      .trimEnd(),
  );
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}
