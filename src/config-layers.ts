// Where `ringdns serve` settings come from, lowest first: defaults, a config
// file (--config), the environment (RINGDNS_<FLAG>), then the command line.
// Every flag can be set in each layer under the same name, so there is one
// list of settings (the CLI's) and nothing to keep in step.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { RingdnsError } from "./errors.js";

export interface SettingSpec {
  /** The flag's name without dashes, as the file and environment spell it: "max-udp-size". */
  name: string;
  /** Where the value goes in the CLI's options: "maxUdpSize". */
  key: string;
  /** value: one text; list: repeatable; switch: on/off (`--no-mdns` is `mdns: false`). */
  kind: "value" | "list" | "switch";
}

/** Settings that name files: in a config file, relative to the file's directory. */
const PATH_SETTINGS = new Set([
  "services",
  "data-dir",
  "key-file",
  "http-token-file",
  "etcd-ca",
  "etcd-cert",
  "etcd-key",
  "etcd-password-file",
  "tls-cert",
  "tls-key",
]);

export type Settings = Record<string, string | string[] | boolean>;
/** Where each setting that did not keep its default came from, for error messages. */
export type Origins = Map<string, string>;

export function envName(name: string): string {
  return `RINGDNS_${name.toUpperCase().replace(/-/g, "_")}`;
}

function bad(where: string, msg: string): never {
  throw new RingdnsError("RINGDNS_E_BAD_CONFIG", `${where}: ${msg}`);
}

function parseSwitch(text: string, where: string): boolean {
  const t = text.trim().toLowerCase();
  if (["true", "yes", "on", "1"].includes(t)) return true;
  if (["false", "no", "off", "0"].includes(t)) return false;
  return bad(where, `"${text}" is not true or false`);
}

/** The RINGDNS_* variables; one that names no setting is an error, not silently ignored. */
export function settingsFromEnv(
  env: NodeJS.ProcessEnv,
  specs: readonly SettingSpec[],
): { settings: Settings; origins: Origins } {
  const byEnv = new Map(specs.map((s) => [envName(s.name), s]));
  const settings: Settings = {};
  const origins: Origins = new Map();
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith("RINGDNS_") || v === undefined) continue;
    const spec = byEnv.get(k);
    if (!spec)
      bad(
        k,
        "not a setting of ringdns serve (its --help lists them; the variable is RINGDNS_ and the flag in capitals, e.g. RINGDNS_MAX_UDP_SIZE)",
      );
    // a list is comma-separated: RINGDNS_DNS=127.0.0.1:8053,[::1]:8053
    settings[spec.key] =
      spec.kind === "switch"
        ? parseSwitch(v, k)
        : spec.kind === "list"
          ? v
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean)
          : v;
    origins.set(spec.key, k);
  }
  return { settings, origins };
}

/** A config file: YAML (or JSON) mapping flag names to values. */
export function settingsFromFile(
  file: string,
  specs: readonly SettingSpec[],
): { settings: Settings; origins: Origins } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    return bad(`--config ${file}`, `cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    return bad(`--config ${file}`, `not YAML or JSON: ${(e as Error).message.split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== "object" || Array.isArray(doc))
    bad(`--config ${file}`, "must be a mapping of settings, e.g. dns: [127.0.0.1:8053]");
  const byName = new Map(specs.map((s) => [s.name, s]));
  const settings: Settings = {};
  const origins: Origins = new Map();
  const dir = dirname(resolve(file));
  for (const [name, value] of Object.entries(doc as Record<string, unknown>)) {
    const where = `--config ${file}: ${name}`;
    const spec = byName.get(name);
    if (!spec)
      bad(
        `--config ${file}`,
        `"${name}" is not a setting (settings are the flags of ringdns serve without the dashes, e.g. max-udp-size)`,
      );
    const text = (v: unknown): string => {
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return String(v);
      return bad(where, `${JSON.stringify(v)} is not a single value`);
    };
    const path = (p: string) => (PATH_SETTINGS.has(name) && !isAbsolute(p) ? resolve(dir, p) : p);
    if (spec.kind === "switch")
      settings[spec.key] = typeof value === "boolean" ? value : parseSwitch(text(value), where);
    else if (spec.kind === "list")
      settings[spec.key] = (Array.isArray(value) ? value : [value]).map((v) => path(text(v)));
    else settings[spec.key] = path(text(value));
    origins.set(spec.key, `--config ${file}`);
  }
  return { settings, origins };
}

/**
 * The CLI's options with the lower layers filled in: a flag given on the
 * command line wins, then the environment, then the file, then the default.
 */
export function layerSettings(
  cli: Settings,
  givenOnCli: (key: string) => boolean,
  file: Settings,
  env: Settings,
): Settings {
  const out: Settings = { ...cli };
  for (const layer of [file, env]) for (const [k, v] of Object.entries(layer)) if (!givenOnCli(k)) out[k] = v;
  return out;
}

/** An error about `--flag: …` says where the value came from when it was not the command line. */
export function explainOrigin(message: string, specs: readonly SettingSpec[], origins: Origins): string {
  const m = /^--([a-z0-9-]+):/.exec(message);
  const spec = m && specs.find((s) => s.name === m[1] || `no-${s.name}` === m[1]);
  const origin = spec && origins.get(spec.key);
  if (!origin) return message;
  return origin.startsWith("RINGDNS_")
    ? message.replace(/^--[a-z0-9-]+:/, `${origin}:`)
    : message.replace(/^--([a-z0-9-]+):/, `${origin}: $1:`);
}
