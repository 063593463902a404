// A port of the behaviour of Go's text/tabwriter with a space pad character,
// which is what SwarmKit's swarmctl uses for every table and inspect layout.
// Cells are tab-terminated; the last cell of a line is not aligned. A column
// block is a run of consecutive lines that all have a cell in that column, and
// each block gets its own width (max cell width + padding, at least minwidth).

export interface TabWriterOptions {
  minWidth: number;
  /** Only matters for a tab pad character; kept for parity with Go's signature. */
  tabWidth: number;
  padding: number;
}

interface Cell {
  text: string;
  width: number;
}

/** SwarmKit's table writer: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0). */
export const TABLE: TabWriterOptions = { minWidth: 0, tabWidth: 4, padding: 2 };
/** SwarmKit's inspect writer: tabwriter.NewWriter(w, 8, 8, 8, ' ', 0). */
export const INSPECT: TabWriterOptions = { minWidth: 8, tabWidth: 8, padding: 8 };
/** SwarmKit's task list inside inspect: tabwriter.NewWriter(w, 4, 4, 4, ' ', 0). */
export const TASKS: TabWriterOptions = { minWidth: 4, tabWidth: 4, padding: 4 };
/** secret/config ls: tabwriter.NewWriter(w, 0, 4, 4, ' ', 0). */
export const WIDE_TABLE: TabWriterOptions = { minWidth: 0, tabWidth: 4, padding: 4 };

function runeWidth(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Aligns tab-separated text the way Go's tabwriter does (text ends with "\n" per line). */
export function tabwrite(text: string, opts: TabWriterOptions): string {
  const rawLines = text.split("\n");
  // A trailing newline yields an empty last element which is not a line of its own.
  const endsWithNewline = rawLines.length > 0 && rawLines[rawLines.length - 1] === "";
  if (endsWithNewline) rawLines.pop();
  const lines: Cell[][] = rawLines.map((l) => l.split("\t").map((t) => ({ text: t, width: runeWidth(t) })));
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const line = lines[i]!;
      let s = "";
      for (let j = 0; j < line.length; j++) {
        const c = line[j]!;
        s += c.text;
        if (j < widths.length) s += " ".repeat(Math.max(0, widths[j]! - c.width));
      }
      out.push(s);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    let start = line0;
    for (let cur = line0; cur < line1; cur++) {
      if (column >= lines[cur]!.length - 1) continue;
      writeLines(start, cur);
      start = cur;
      let width = opts.minWidth;
      for (; cur < line1; cur++) {
        const line = lines[cur]!;
        if (column >= line.length - 1) break;
        width = Math.max(width, line[column]!.width + opts.padding);
      }
      widths.push(width);
      format(start, cur);
      widths.pop();
      start = cur;
      // The outer loop's cur++ would skip the line that ended the block.
      cur--;
    }
    writeLines(start, line1);
  };

  format(0, lines.length);
  return out.join("\n") + (endsWithNewline ? "\n" : "");
}

/** A header row and SwarmKit's dashes underline (common.PrintHeader). */
export function headerLines(columns: readonly string[]): string {
  return `${columns.join("\t")}\n${columns.map((c) => "-".repeat(c.length)).join("\t")}\n`;
}

/** A whole table: header, underline and rows, aligned. */
export function table(columns: readonly string[], rows: readonly (readonly string[])[], opts: TabWriterOptions = TABLE): string {
  return tabwrite(headerLines(columns) + rows.map((r) => `${r.join("\t")}\n`).join(""), opts);
}
