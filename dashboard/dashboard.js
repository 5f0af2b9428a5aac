// The ringdns dashboard: plain DOM, the JSON API and its event stream.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  types: [],
  current: null,
  colors: new Map(),
  lastEventId: null,
  instancesAsked: 0,
  searchTimer: undefined,
};
/** Instances shown at once (a type may hold 100,000; the search box finds the rest). */
const PAGE = 200;
const PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

async function api(path) {
  const res = await fetch(path, { headers: { accept: "application/json" } });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${(await res.json().catch(() => ({}))).error ?? ""}`);
  return res.json();
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") e.textContent = v;
    else if (k === "style")
      e.style.cssText = v; // through the CSSOM: the Content-Security-Policy allows no inline style attributes
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function colorOf(name) {
  if (!state.colors.has(name)) state.colors.set(name, PALETTE[state.colors.size % PALETTE.length]);
  return state.colors.get(name);
}

const percent = (x) => (x === undefined ? "…" : `${(x * 100).toFixed(1)} %`);

async function refreshHealth() {
  try {
    const res = await fetch("/readyz");
    const body = await res.json();
    const st = body.store;
    // the store's location is told only to those who may read the API (--http-read-from, or the token)
    $("health").textContent =
      `store${st.location ? ` ${st.location}` : ""}${st.revision ? `, revision ${st.revision}` : ""}${st.lagMs !== undefined ? `, lag ${st.lagMs} ms` : ""}: ${res.ok ? "healthy" : st.reason ? `NOT READY: ${st.reason}` : "OUT OF REACH (answers may be stale; registrations refused)"}`;
    $("health").className = res.ok ? "" : "bad";
  } catch {
    $("health").textContent = "daemon unreachable";
    $("health").className = "bad";
  }
}

async function refreshTypes() {
  const { types } = await api("/v1/types");
  state.types = types;
  const list = $("types");
  list.replaceChildren(
    ...types.map((t) => {
      const b = el("button", { type: "button", "data-type": t.type, text: `${t.type} (${t.instances})` });
      if (t.type === state.current) b.setAttribute("aria-current", "true");
      b.addEventListener("click", () => selectType(t.type));
      return el("li", {}, b);
    }),
  );
  $("no-types").hidden = types.length > 0;
  if (!state.current && types.length > 0) await selectType(types[0].type);
  else if (state.current && !types.some((t) => t.type === state.current)) {
    state.current = null;
    $("type-view").hidden = true;
  }
}

async function selectType(type) {
  state.current = type;
  for (const b of $("types").querySelectorAll("button"))
    b.setAttribute("aria-current", String(b.dataset.type === type));
  $("type-view").hidden = false;
  $("type-title").textContent = type;
  $("owner").textContent = "";
  await Promise.all([refreshInstances(), refreshRing()]);
}

async function refreshInstances() {
  if (!state.current) return;
  // a type may hold 100,000 instances: one page of the ones whose name holds the search text
  const search = $("instance-search").value.trim();
  const asked = ++state.instancesAsked;
  const { instances, total } = await api(
    `/v1/types/${encodeURIComponent(state.current)}/instances?limit=${PAGE}${search ? `&search=${encodeURIComponent(search)}` : ""}`,
  );
  if (asked !== state.instancesAsked) return; // a newer search has been asked for: its answer wins
  $("instances-count").textContent =
    total > instances.length ? `(first ${instances.length} of ${total})` : `(${total})`;
  $("instances").replaceChildren(
    ...instances.map((i) =>
      el(
        "tr",
        { "data-instance": i.name },
        el(
          "td",
          {},
          el("span", { class: "swatch", style: `background:${colorOf(i.name)}`, "aria-hidden": "true" }),
          i.name,
        ),
        el("td", { text: `${i.host}:${i.port}` }),
        el("td", {
          text:
            (i.origin ? `cluster (${i.origin.source} on ${i.origin.node})` : i.source) +
            (i.srp ? ` (key ${i.srp.keyTag ?? "?"}, held ${i.srp.keyLeaseRemainingSeconds} s more)` : ""),
        }),
        el("td", { text: String(i.weight) }),
        el("td", { text: percent(i.share) }),
        el("td", { text: i.leaseRemainingSeconds === null ? "permanent" : `${i.leaseRemainingSeconds} s` }),
      ),
    ),
  );
}

/** Contiguous runs of slices with one owner become one arc each. */
async function refreshRing() {
  if (!state.current) return;
  const ring = await api(`/v1/types/${encodeURIComponent(state.current)}/ring?slices=360`);
  const svg = $("ring");
  const ns = "http://www.w3.org/2000/svg";
  const paths = [];
  const n = ring.slices.length;
  for (let i = 0; i < n; ) {
    const owner = ring.slices[i];
    let j = i + 1;
    while (j < n && ring.slices[j] === owner) j++;
    if (owner !== null) {
      const a0 = (i / n) * 2 * Math.PI - Math.PI / 2;
      const a1 = (j / n) * 2 * Math.PI - Math.PI / 2;
      const p = document.createElementNS(ns, "path");
      const r = 90;
      const large = a1 - a0 > Math.PI ? 1 : 0;
      p.setAttribute(
        "d",
        `M ${r * Math.cos(a0)} ${r * Math.sin(a0)} A ${r} ${r} 0 ${large} 1 ${r * Math.cos(a1)} ${r * Math.sin(a1)}`,
      );
      p.setAttribute("stroke", colorOf(owner));
      p.setAttribute("stroke-width", "18");
      p.setAttribute("fill", "none");
      p.setAttribute("data-owner", owner);
      paths.push(p);
    }
    i = j;
  }
  svg.replaceChildren(...paths);
  const shares = Object.entries(ring.shares).sort((a, b) => b[1] - a[1]);
  $("legend").replaceChildren(
    ...shares.map(([name, share]) =>
      el(
        "li",
        { "data-instance": name },
        el("span", { class: "swatch", style: `background:${colorOf(name)}`, "aria-hidden": "true" }),
        `${name}: ${percent(share)}`,
      ),
    ),
    ...(ring.instances > shares.length
      ? [el("li", {}, `and ${ring.instances - shares.length} more, each with a smaller share`)]
      : []),
  );
}

async function findOwner(ev) {
  ev.preventDefault();
  const key = $("key").value;
  if (!key || !state.current) return;
  try {
    const r = await api(`/v1/types/${encodeURIComponent(state.current)}/owner?key=${encodeURIComponent(key)}`);
    $("owner").textContent = r.owner
      ? `${key} → ${r.owner.name} (${r.owner.host}:${r.owner.port})`
      : `${key} → no instance`;
    $("owner").dataset.owner = r.owner ? r.owner.name : "";
  } catch (e) {
    $("owner").textContent = String(e.message);
  }
}

function describe(e) {
  if (e.event === "instance") return `${e.op} ${e.instance.name} (${e.type}, ${e.instance.source})`;
  if (e.event === "host") return `${e.op} host ${e.host.name} ${e.host.addresses.join(" ")}`;
  if (e.event === "ring") return `ring of ${e.type}: ${e.instances ?? Object.keys(e.shares).length} instances`;
  return e.event;
}

/** Sessions shown at once (the API pages them; the first are enough to see who follows what). */
const PUSH_PAGE = 50;

/** DNS Push subscriptions (--dns-tls): a row each, under the session's client; hidden while there are none. */
async function refreshPush() {
  const page = await api(`/v1/subscriptions?limit=${PUSH_PAGE}`);
  $("push-view").hidden = page.total === 0;
  $("push-count").textContent =
    `(${page.subscriptions} in ${page.total} session${page.total === 1 ? "" : "s"}${page.next ? `; the first ${PUSH_PAGE} shown` : ""})`;
  $("push").replaceChildren(
    ...page.sessions.flatMap((s) =>
      s.subscriptions.map((sub, i) =>
        el(
          "tr",
          {},
          el("td", { text: i === 0 ? s.peer : "" }),
          el("td", { text: i === 0 ? new Date(s.since).toLocaleTimeString() : "" }),
          el("td", { text: sub.name }),
          el("td", { text: sub.type }),
          el("td", { text: String(sub.records) }),
          el("td", { text: String(sub.pushes) }),
        ),
      ),
    ),
  );
}

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    refreshTypes()
      .then(refreshInstances)
      .catch(() => {});
  }, 50);
}

function follow() {
  // from the start of the history the daemon keeps, so the pane shows what happened before the page opened
  const es = new EventSource("/v1/watch?lastEventId=0");
  const show = (msg) => {
    const e = JSON.parse(msg.data);
    const li = el(
      "li",
      {},
      el("span", { class: "time", text: `${new Date(e.time ?? Date.now()).toLocaleTimeString()} ` }),
      describe(e),
    );
    $("events").prepend(li);
    while ($("events").children.length > 100) $("events").lastChild.remove();
  };
  for (const kind of ["instance", "host"]) {
    es.addEventListener(kind, (msg) => {
      show(msg);
      refreshSoon();
    });
  }
  es.addEventListener("ring", (msg) => {
    show(msg);
    if (JSON.parse(msg.data).type === state.current) refreshRing().catch(() => {});
  });
  // history too old to replay: reload everything
  es.addEventListener("reset", () => refreshSoon());
  es.addEventListener("open", () => refreshHealth());
  es.addEventListener("error", () => refreshHealth());
}

$("key-form").addEventListener("submit", findOwner);
// one request when typing pauses, not one a keystroke
$("instance-search").addEventListener("input", () => {
  clearTimeout(state.searchTimer);
  state.searchTimer = setTimeout(() => void refreshInstances(), 150);
});
refreshHealth();
setInterval(refreshHealth, 5000);
refreshPush().catch(() => {});
setInterval(() => refreshPush().catch(() => {}), 5000);
refreshTypes().catch((e) => ($("health").textContent = String(e.message)));
follow();
