// One section of bench/RESULTS.md between `<!-- NAME:start -->` and
// `<!-- NAME:end -->`, replaced in place (or appended), so a partial run such
// as `--scale` leaves the other sections as they were.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export function writeSection(file: string, name: string, body: string): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${body.trim()}\n${end}`;
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const a = text.indexOf(start);
  const b = text.indexOf(end, a);
  const next =
    a >= 0 && b >= 0
      ? text.slice(0, a) + block + text.slice(b + end.length)
      : `${text.replace(/\n*$/, "")}\n\n${block}\n`;
  writeFileSync(file, next);
}

/** Every marked section whose name starts with `prefix`, as text to append: a full run keeps what `--scale` wrote. */
export function markedSections(file: string, prefix: string): string {
  if (!existsSync(file)) return "";
  const text = readFileSync(file, "utf8");
  const blocks: string[] = [];
  const start = new RegExp(`<!-- (${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}[^ ]*):start -->`, "g");
  for (let m = start.exec(text); m; m = start.exec(text)) {
    const end = `<!-- ${m[1]}:end -->`;
    const b = text.indexOf(end, m.index);
    if (b >= 0) blocks.push(text.slice(m.index, b + end.length));
  }
  return blocks.map((b) => `\n${b}\n`).join("");
}
