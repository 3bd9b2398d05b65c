extension WebPage {
    /// Everything the page shows goes in with `textContent` or `createTextNode`: names,
    /// commands and logs are text, never HTML. The session token lives in an HttpOnly
    /// cookie the script cannot read; changes carry the X-Dstack-Request header.
    static let pageScript = #"""
"use strict";
(() => {
const $ = (id) => document.getElementById(id);
const views = ["runs", "instances", "rules", "timeline", "run"];
let me = null;
let changes = null;
let logGeneration = 0;
let refreshTimer = null;
/// The first screen shows the newest runs; "Show every run" lifts the limit.
const firstRuns = 100;
let everyRun = false;

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

async function api(method, path, body) {
  const headers = { "X-Dstack-Request": "1" };
  const init = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  const response = await fetch(path, init);
  if (response.status === 401 && path !== "/api/v1/session") { signedOut(); throw new Error("signed out"); }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
  return data;
}

function say(text) { $("status").textContent = text || ""; }

function seconds(from, to) {
  if (!from) return null;
  return Math.max(0, ((to ? Date.parse(to) : Date.now()) - Date.parse(from)) / 1000);
}

function duration(s) {
  if (s === null || s === undefined) return "\u2014";
  s = Math.round(s);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
}

function dollars(v) { return (v === null || v === undefined) ? "\u2014" : "$" + Number(v).toFixed(Number(v) < 1 ? 4 : 2); }

function clock(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "" : d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) td.appendChild(cell);
    else if (cell && typeof cell === "object") {
      td.textContent = cell.text === undefined || cell.text === null ? "" : String(cell.text);
      if (cell.className) td.className = cell.className;
    } else td.textContent = cell === undefined || cell === null ? "" : String(cell);
    tr.appendChild(td);
  }
  return tr;
}

function link(href, text) { const a = el("a", text); a.href = href; return a; }

function fill(tbody, rows, empty) {
  const fragment = document.createDocumentFragment();
  rows.forEach((r) => fragment.appendChild(r));
  tbody.replaceChildren(fragment);
  $(empty).hidden = rows.length > 0;
}

// MARK: views

function currentRoute() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [view, ...rest] = hash.split("/");
  if (view === "run" && rest.length) return { view: "run", id: decodeURIComponent(rest.join("/")) };
  return { view: views.includes(view) && view !== "run" ? view : "runs" };
}

function show(route) {
  for (const v of views) $("view-" + v).hidden = v !== route.view;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.view === route.view) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
}

async function render(moveFocus) {
  if (!me) return;
  const route = currentRoute();
  show(route);
  if (route.view !== "run" && $("run-log").dataset.run) {
    logGeneration++; // leaving a run's page ends its log's long polls
    delete $("run-log").dataset.run;
  }
  try {
    if (route.view === "runs") await renderRuns();
    else if (route.view === "instances") await renderInstances();
    else if (route.view === "rules") await renderRules();
    else if (route.view === "timeline") await renderTimeline();
    else if (route.view === "run") await renderRun(route.id);
    say("");
  } catch (error) { if (me) say("Could not load: " + error.message); }
  if (moveFocus) $("main").focus();
}

async function renderRuns() {
  const runs = await api("GET", "/api/v1/runs?all=true" + (everyRun ? "" : "&limit=" + firstRuns));
  fill($("runs-table").tBodies[0], runs.map((r) => {
    const waiting = ["submitted", "pending", "provisioning"].includes(r.status);
    return row([
      link("#/run/" + encodeURIComponent(r.id), r.id),
      { text: r.workflow || "(command)", className: "wrap" },
      r.user || "",
      { text: r.status, className: "status-" + r.status },
      { text: waiting ? [r.reason, r.stage].filter(Boolean).join("; ") : "", className: "wrap" },
      { text: r.attempt, className: "num" },
      { text: duration(seconds(r.submitted_at, r.finished_at)), className: "num" },
      { text: dollars(r.cost_dollars), className: "num" },
    ]);
  }), "runs-empty");
  $("runs-more").hidden = everyRun || runs.length < firstRuns;
  if (!$("runs-table").dataset.loaded) performance.mark("runs-shown");
  $("runs-table").dataset.loaded = "true";
}

async function renderInstances() {
  const o = await api("GET", "/api/v1/overview");
  $("instances-listed").textContent = o.listed_at ? "As the cloud listed them at " + clock(o.listed_at) + "." : "Waiting for the first reconcile pass.";
  fill($("instances-table").tBodies[0], o.instances.map((i) => row([
    i.id, i.instance_type, i.zone || "\u2014", { text: i.state, className: "status-" + i.state },
    i.run_id ? link("#/run/" + encodeURIComponent(i.run_id), i.run_id) : "\u2014",
    { text: i.idle_since && !i.run_id ? duration(seconds(i.idle_since, o.now)) : "\u2014", className: "num" },
    { text: duration(seconds(i.launch_time, o.now)), className: "num" },
    { text: dollars(i.cost_dollars), className: "num" },
  ])), "instances-empty");
}

async function renderRules() {
  const o = await api("GET", "/api/v1/overview");
  const admin = me.role === "admin";
  $("rules-state").textContent = (o.provider ? "Provider: " + o.provider + ". " : "No provider configured. ")
    + (o.enabled ? "Autoscaling is on." : "Autoscaling is disabled: no instances are launched.");
  $("rules-admin").hidden = !admin;
  $("toggle-autoscaling").textContent = o.enabled ? "Disable autoscaling\u2026" : "Enable autoscaling\u2026";
  $("toggle-autoscaling").dataset.enabled = o.enabled ? "true" : "false";
  for (const th of document.querySelectorAll(".admin-only")) th.hidden = !admin;
  fill($("rules-table").tBodies[0], o.rules.map((r) => {
    const cells = [r.instance_type, { text: r.max, className: "num" }, { text: r.instances, className: "num" },
      { text: r.price_per_hour === null || r.price_per_hour === undefined ? "\u2014" : dollars(r.price_per_hour) + "/h", className: "num" },
      { text: dollars(r.spend_today_dollars), className: "num" },
      { text: dollars(r.spend_last30_days_dollars), className: "num" }];
    if (admin) {
      const button = el("button", "Change max\u2026");
      button.type = "button";
      button.addEventListener("click", () => changeMax(r.instance_type, r.max));
      cells.push(button);
    }
    return row(cells);
  }), "rules-empty");
}

async function renderTimeline() {
  const { events } = await api("GET", "/api/v1/events?limit=200");
  const list = $("timeline");
  const fragment = document.createDocumentFragment();
  for (const e of events) {
    const li = el("li");
    const time = el("time", clock(e.at));
    time.dateTime = e.at;
    li.append(time, el("span", e.kind.replace(/_/g, " "), "kind kind-" + e.kind), el("span", e.subject + (e.detail ? ": " + e.detail : ""), "what"));
    fragment.appendChild(li);
  }
  list.replaceChildren(fragment);
  $("timeline-empty").hidden = events.length > 0;
}

async function renderRun(id) {
  const run = await api("GET", "/api/v1/runs/" + encodeURIComponent(id));
  $("run-title").textContent = run.id;
  const facts = [["Workflow", run.workflow || "(command)"], ["User", run.user || ""], ["Status", run.status],
    ["Why", run.reason || run.stage || "\u2014"], ["Instance", run.instance_id || "\u2014"], ["Attempts", run.attempt],
    ["Exit code", run.exit_code === null || run.exit_code === undefined ? "\u2014" : run.exit_code],
    ["Duration", duration(seconds(run.submitted_at, run.finished_at))], ["Cost", dollars(run.cost_dollars)]];
  const dl = $("run-facts");
  const fragment = document.createDocumentFragment();
  for (const [k, v] of facts) {
    fragment.appendChild(el("dt", k));
    fragment.appendChild(el("dd", v, k === "Status" ? "status-" + run.status : ""));
  }
  dl.replaceChildren(fragment);
  dl.dataset.status = run.status;
  if ($("run-log").dataset.run !== run.id) streamLog(run.id);
  await renderRunArtifacts(run);
}

function bytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

/// A run that declares artifacts lists them once its manifest is written (paths as text).
async function renderRunArtifacts(run) {
  const section = $("run-artifacts");
  section.hidden = !run.artifacts;
  if (!run.artifacts) return;
  const list = await api("GET", "/api/v1/runs/" + encodeURIComponent(run.id) + "/artifacts");
  $("run-artifacts-state").textContent = list.state + (list.reason ? " (" + list.reason + ")" : "")
    + (list.files.length ? ": " + list.files.length + (list.files.length === 1 ? " file, " : " files, ")
       + bytes(list.files.reduce((a, f) => a + f.size, 0)) : "")
    + (list.location ? ", in " + (list.location === "server" ? "the server's store" : list.location) : "");
  const fragment = document.createDocumentFragment();
  for (const file of list.files) {
    const li = el("li");
    li.append(el("code", file.path), el("span", " " + bytes(file.size) + " \u00b7 sha256 " + file.sha256.slice(0, 12)));
    fragment.appendChild(li);
  }
  $("run-artifact-list").replaceChildren(fragment);
  section.dataset.state = list.state;
}

/// Long polls of the logs route: each answers as soon as there is a line, or after 25 s.
async function streamLog(id) {
  const generation = ++logGeneration;
  const pre = $("run-log");
  pre.replaceChildren();
  pre.dataset.run = id;
  let after = 0;
  while (generation === logGeneration && me) {
    let page;
    try {
      page = await api("GET", "/api/v1/runs/" + encodeURIComponent(id) + "/logs?after=" + after + "&wait=25");
    } catch (error) {
      if (generation !== logGeneration || !me) return;
      say("Log: " + error.message);
      await new Promise((r) => setTimeout(r, 2000));
      continue;
    }
    if (generation !== logGeneration) return;
    const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    for (const line of page.entries) {
      const span = el("span", line.text, line.stream);
      pre.appendChild(span);
      after = Math.max(after, line.seq);
    }
    if (stick) pre.scrollTop = pre.scrollHeight;
    const finished = ["done", "failed", "stopped", "interrupted"].includes(page.run.status);
    if (finished && page.entries.length === 0) { pre.dataset.complete = "true"; return; }
  }
}

// MARK: admin changes, behind a confirmation

function confirmDialog(text, withMax) {
  return new Promise((resolve) => {
    const dialog = $("confirm");
    $("confirm-text").textContent = text;
    $("confirm-field").hidden = withMax === undefined;
    if (withMax !== undefined) $("confirm-max").value = String(withMax);
    dialog.returnValue = "";
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    (withMax !== undefined ? $("confirm-max") : $("confirm-ok")).focus();
  });
}

async function changeMax(type, current) {
  if (!await confirmDialog("Change the max of " + type + " (now " + current + ")? A lower max terminates instances over it; 0 removes the rule.", current)) return;
  const max = Number($("confirm-max").value);
  if (!Number.isInteger(max) || max < 0) { say("The max must be a whole number of 0 or more."); return; }
  try {
    await api("PUT", "/api/v1/autoscale/rules/" + encodeURIComponent(type), { max });
    say("The max of " + type + " is now " + max + ".");
  } catch (error) { say("Not changed: " + error.message); }
  render();
}

async function toggleAutoscaling() {
  const enabled = $("toggle-autoscaling").dataset.enabled === "true";
  const question = enabled ? "Disable autoscaling? Every instance is shut down; the rules are kept." : "Enable autoscaling again?";
  if (!await confirmDialog(question)) return;
  try {
    await api("POST", enabled ? "/api/v1/autoscale/disable" : "/api/v1/autoscale/enable");
    say(enabled ? "Autoscaling is disabled." : "Autoscaling is on.");
  } catch (error) { say("Not changed: " + error.message); }
  render();
}

// MARK: sign-in, live updates

function signedIn(user) {
  me = user;
  $("sign-in").hidden = true;
  $("nav").hidden = false;
  $("sign-out").hidden = false;
  $("who").textContent = user.name + (user.role === "admin" ? " (admin)" : "");
  listen();
  render(true);
}

function signedOut() {
  me = null;
  logGeneration++;
  if (changes) { changes.close(); changes = null; }
  $("live").hidden = true;
  for (const v of views) $("view-" + v).hidden = true;
  for (const id of ["runs-table", "instances-table", "rules-table"]) $(id).tBodies[0].replaceChildren();
  $("timeline").replaceChildren();
  $("run-log").replaceChildren();
  delete $("run-log").dataset.run;
  $("nav").hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  $("sign-in").hidden = false;
  $("token").focus();
}

function listen() {
  if (changes) changes.close();
  changes = new EventSource("/api/v1/changes");
  changes.addEventListener("open", () => { $("live").hidden = false; });
  changes.addEventListener("change", () => {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => render(false), 150);
  });
  changes.addEventListener("error", () => {
    $("live").hidden = true;
    // A refused stream (signed out elsewhere) is closed for good: ask who we are.
    if (changes && changes.readyState === EventSource.CLOSED) api("GET", "/api/v1/me").then(() => listen()).catch(() => {});
  });
}

async function start() {
  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("sign-in-error").textContent = "";
    try {
      const user = await api("POST", "/api/v1/session", { token: $("token").value.trim() });
      $("token").value = "";
      signedIn(user);
    } catch (error) {
      $("sign-in-error").textContent = "Sign-in failed: " + error.message + ".";
      $("token").select();
    }
  });
  $("sign-out").addEventListener("click", async () => {
    try { await api("DELETE", "/api/v1/session"); } catch (_) { /* signed out either way */ }
    signedOut();
  });
  $("toggle-autoscaling").addEventListener("click", toggleAutoscaling);
  $("runs-all").addEventListener("click", () => { everyRun = true; render(false); });
  window.addEventListener("hashchange", () => render(true));
  // A stream left open by a page the browser keeps (reloads, back and forward) would hold
  // one of the six connections a browser gives an HTTP/1.1 origin until the server ends it.
  window.addEventListener("pagehide", () => { if (changes) { changes.close(); changes = null; } logGeneration++; });
  window.addEventListener("pageshow", (event) => { if (event.persisted && me) { listen(); render(false); } });
  try {
    const response = await fetch("/api/v1/me", { credentials: "same-origin", cache: "no-store" });
    if (response.ok) signedIn(await response.json()); else signedOut();
  } catch (_) { signedOut(); }
}

start();
})();
"""#
}
