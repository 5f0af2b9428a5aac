// The dashboard's files (dashboard/ at the package root: plain HTML, CSS and
// JS, no build step), read once. Found by walking up from this module, so it
// works from src/ under the tests and from dist/ when installed.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};
const cache = new Map<string, { contentType: string; body: Buffer }>();

function dashboardDir(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, "dashboard", "index.html"))) return join(dir, "dashboard");
  }
  throw new Error("the dashboard/ folder is missing from this installation");
}

export function dashboardFile(name: "index.html" | "dashboard.js" | "dashboard.css" | string): {
  contentType: string;
  body: Buffer;
} {
  let f = cache.get(name);
  if (!f) {
    f = {
      contentType: TYPES[name.split(".").pop()!] ?? "application/octet-stream",
      body: readFileSync(join(dashboardDir(), name)),
    };
    cache.set(name, f);
  }
  return f;
}
