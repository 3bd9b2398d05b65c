extension WebPage {
    static let pageStyle = #"""
:root { --fg: #1b1f24; --muted: #5a6270; --line: #d8dde3; --bg: #ffffff; --band: #f4f6f8; --accent: #0b5cad;
  --ok: #1a7f37; --bad: #b42318; --wait: #9a6700; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); font-size: 15px; line-height: 1.45; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 8px; top: 8px; background: var(--bg); padding: 4px 8px; z-index: 2; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 16px; padding: 10px 16px;
  border-bottom: 1px solid var(--line); background: var(--band); }
.brand { font-weight: 700; font-size: 17px; }
nav { display: flex; flex-wrap: wrap; gap: 4px; }
nav a { padding: 4px 10px; border-radius: 6px; color: var(--fg); text-decoration: none; }
nav a[aria-current="page"] { background: var(--accent); color: #fff; }
.who { margin-left: auto; color: var(--muted); }
.live { font-size: 12px; color: var(--ok); border: 1px solid var(--ok); border-radius: 10px; padding: 0 6px; }
main { padding: 12px 16px 32px; max-width: 1400px; }
main:focus { outline: none; }
h1 { font-size: 20px; margin: 8px 0 12px; }
h2 { font-size: 16px; margin: 16px 0 8px; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, pre:focus-visible { outline: 3px solid #f5a623; outline-offset: 1px; }
button { font: inherit; padding: 5px 12px; border: 1px solid var(--accent); border-radius: 6px; background: var(--bg);
  color: var(--accent); cursor: pointer; }
button:hover { background: #e8f1fb; }
form { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; max-width: 560px; }
input { font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 6px; min-width: 0; flex: 1 1 220px; }
.error { color: var(--bad); flex-basis: 100%; margin: 0; min-height: 1.4em; }
.hint, .empty { color: var(--muted); }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; vertical-align: top; }
th { background: var(--band); font-weight: 600; position: sticky; top: 0; }
tbody tr:last-child td { border-bottom: none; }
td.wrap { white-space: normal; min-width: 16em; max-width: 32em; overflow-wrap: anywhere; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.status-done { color: var(--ok); } .status-failed, .status-interrupted { color: var(--bad); }
.status-running { color: var(--accent); } .status-submitted, .status-pending, .status-provisioning { color: var(--wait); }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; overflow-wrap: anywhere; }
.log { background: #0f1419; color: #e6e6e6; padding: 10px 12px; border-radius: 8px; min-height: 8em; max-height: 70vh;
  overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 13px; }
.log .stderr { color: #ffb4a8; } .log .system { color: #9ecbff; }
.timeline { list-style: none; padding: 0; margin: 0; }
.timeline li { display: grid; grid-template-columns: 10em 8em 1fr; gap: 4px 12px; padding: 6px 0; border-bottom: 1px solid var(--line); }
.timeline time { color: var(--muted); font-variant-numeric: tabular-nums; }
.timeline .kind { font-weight: 600; }
.timeline .what { overflow-wrap: anywhere; }
.status { color: var(--muted); min-height: 1.4em; }
dialog { border: 1px solid var(--line); border-radius: 8px; max-width: 420px; }
dialog menu { display: flex; gap: 8px; justify-content: flex-end; padding: 0; margin: 12px 0 0; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
[hidden] { display: none !important; }
@media (max-width: 600px) {
  body { font-size: 14px; }
  header { padding: 8px 10px; } main { padding: 8px 10px 24px; }
  nav { order: 3; flex-basis: 100%; }
  th, td { padding: 5px 7px; }
  .timeline li { grid-template-columns: 1fr; gap: 0; }
}
"""#
}
