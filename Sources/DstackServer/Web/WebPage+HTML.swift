extension WebPage {
    static let pageHTML = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dstack</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <span class="brand">dstack</span>
  <nav id="nav" aria-label="Views" hidden>
    <a href="#/runs" data-view="runs">Runs</a>
    <a href="#/instances" data-view="instances">Instances</a>
    <a href="#/rules" data-view="rules">Rules</a>
    <a href="#/timeline" data-view="timeline">Timeline</a>
  </nav>
  <span id="who" class="who"></span>
  <span id="live" class="live" hidden title="Live updates connected">live</span>
  <button id="sign-out" type="button" hidden>Sign out</button>
</header>
<main id="main" tabindex="-1">
  <section id="sign-in" hidden>
    <h1>Sign in</h1>
    <form id="sign-in-form">
      <label for="token">Token</label>
      <input id="token" name="token" type="password" autocomplete="current-password" required spellcheck="false">
      <button type="submit">Sign in</button>
      <p id="sign-in-error" class="error" role="alert"></p>
    </form>
    <p class="hint">The admin's token is in DSTACK_HOME/admin.token; <code>dstack users add NAME</code> prints a user's.</p>
  </section>

  <section id="view-runs" hidden>
    <h1>Runs</h1>
    <div class="table-wrap">
      <table id="runs-table">
        <caption class="visually-hidden">Runs, newest first</caption>
        <thead><tr><th scope="col">ID</th><th scope="col">Workflow</th><th scope="col">User</th><th scope="col">Status</th>
          <th scope="col">Why waiting</th><th scope="col" class="num">Attempts</th><th scope="col" class="num">Duration</th><th scope="col" class="num">Cost</th></tr></thead>
        <tbody></tbody>
      </table>
    </div>
    <p id="runs-empty" class="empty" hidden>No runs yet.</p>
    <p id="runs-more" hidden><button id="runs-all" type="button">Show every run</button></p>
  </section>

  <section id="view-instances" hidden>
    <h1>Instances</h1>
    <p id="instances-listed" class="hint"></p>
    <div class="table-wrap">
      <table id="instances-table">
        <thead><tr><th scope="col">ID</th><th scope="col">Type</th><th scope="col">Zone</th><th scope="col">State</th>
          <th scope="col">Run</th><th scope="col" class="num">Idle</th><th scope="col" class="num">Uptime</th><th scope="col" class="num">Cost so far</th></tr></thead>
        <tbody></tbody>
      </table>
    </div>
    <p id="instances-empty" class="empty" hidden>No instances.</p>
  </section>

  <section id="view-rules" hidden>
    <h1>Rules</h1>
    <p id="rules-state" class="hint"></p>
    <p id="rules-admin" hidden><button id="toggle-autoscaling" type="button"></button></p>
    <div class="table-wrap">
      <table id="rules-table">
        <thead><tr><th scope="col">Type</th><th scope="col" class="num">Max</th><th scope="col" class="num">Instances now</th>
          <th scope="col" class="num">Spot price</th><th scope="col" class="num">Idle spend today</th><th scope="col" class="num">Idle spend 30 days</th><th scope="col" class="admin-only">Change</th></tr></thead>
        <tbody></tbody>
      </table>
    </div>
    <p id="rules-empty" class="empty" hidden>No rules: <code>dstack autoscale allow TYPE --max N</code> adds one.</p>
  </section>

  <section id="view-timeline" hidden>
    <h1>Timeline</h1>
    <ol id="timeline" class="timeline"></ol>
    <p id="timeline-empty" class="empty" hidden>Nothing has happened yet.</p>
  </section>

  <section id="view-run" hidden>
    <p><a href="#/runs">&larr; Runs</a></p>
    <h1>Run <span id="run-title"></span></h1>
    <dl id="run-facts" class="facts"></dl>
    <section id="run-artifacts" hidden>
      <h2>Artifacts</h2>
      <p id="run-artifacts-state"></p>
      <ul id="run-artifact-list" class="artifacts"></ul>
    </section>
    <h2>Log</h2>
    <pre id="run-log" class="log" tabindex="0" aria-label="Log"></pre>
  </section>

  <p id="status" class="status" role="status"></p>
</main>
<dialog id="confirm" aria-labelledby="confirm-text">
  <form method="dialog">
    <p id="confirm-text"></p>
    <p id="confirm-field" hidden><label for="confirm-max">New max</label> <input id="confirm-max" type="number" min="0" step="1"></p>
    <menu><button value="cancel" type="submit">Cancel</button> <button id="confirm-ok" value="ok" type="submit">Confirm</button></menu>
  </form>
</dialog>
</body>
</html>
"""#
}
