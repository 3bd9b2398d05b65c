"""Drives the dstack web page in Debian's headless Chromium (Selenium + chromedriver)
against a running server, and prints one "ok: ..." line per check that held. Any check
that fails raises, so the script exits non-zero with the reason; WebTests asserts both.

Chromium runs as root here, so it needs --no-sandbox; chromedriver listens on a free
port and is killed by its PID at the end."""
import argparse
import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

XSS_NAME = "<img src=x onerror=alert(1)>"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ok(what):
    print("ok: " + what, flush=True)


class Check:
    def __init__(self, args):
        self.url = args.url.rstrip("/")
        self.args = args
        options = webdriver.ChromeOptions()
        options.binary_location = args.chromium
        for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--remote-debugging-port={free_port()}", "--window-size=1280,900", "--no-first-run",
                     "--disable-extensions", "--disable-background-networking"]:
            options.add_argument(flag)
        self.service = Service(executable_path=args.chromedriver, port=free_port())
        self.driver = webdriver.Chrome(service=self.service, options=options)
        self.driver.set_page_load_timeout(30)

    def close(self):
        try:
            self.driver.quit()
        finally:
            process = getattr(self.service, "process", None)
            if process is not None and process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)

    # Helpers

    def wait(self, what, condition, timeout=60):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                value = condition()
                if value:
                    return value
            except Exception as error:  # the page is mid-render; try again
                last = error
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}" + (f" (last error: {last})" if last else ""))

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def visible(self, element_id):
        return self.js("const e = document.getElementById(arguments[0]); return !!e && !e.hidden && e.offsetParent !== null;", element_id)

    def api(self, method, path, token=None, body=None, headers=None):
        request = urllib.request.Request(self.url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode())
        if token:
            request.add_header("Authorization", "Bearer " + token)
        if body is not None:
            request.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                text = reply.read().decode()
                return reply.status, dict(reply.headers), (json.loads(text) if text and reply.headers.get_content_type() == "application/json" else text)
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            return error.code, dict(error.headers), text

    def submit(self, token, workflow, commands, artifacts=None):
        body = {"workflow": workflow, "commands": commands, "requirements": {}, "environment": {}, "wait": True}
        if artifacts:
            body["artifacts"] = artifacts
        status, _, run = self.api("POST", "/api/v1/runs", token, body)
        assert status == 201, f"submitting {workflow!r}: {status} {run}"
        return run["id"]

    def sign_in(self, token):
        field = self.wait("the token field", lambda: self.visible("token") and self.driver.find_element(By.ID, "token"))
        field.clear()
        field.send_keys(token)
        field.send_keys(Keys.ENTER)  # the keyboard alone signs in

    def run_row(self, run_id):
        return self.js("""
            for (const tr of document.querySelectorAll('#runs-table tbody tr')) {
              const cells = [...tr.cells].map((c) => c.textContent);
              if (cells[0] === arguments[0]) return cells;
            }
            return null;""", run_id)

    def screenshot(self, name):
        os.makedirs(self.args.screenshots, exist_ok=True)
        for width, height in [(1280, 900), (390, 844)]:
            self.driver.set_window_size(width, height)
            time.sleep(0.3)
            path = os.path.join(self.args.screenshots, f"{name}-{width}.png")
            self.driver.save_screenshot(path)
            if width == 390:
                overflow = self.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
                assert overflow <= 1, f"{name} at 390 px scrolls sideways by {overflow} px (tables scroll inside their frame)"
        self.driver.set_window_size(1280, 900)
        ok(f"screenshots of {name} at 1280 and 390 px")

    # The checks

    def run_all(self):
        a = self.args
        status, headers, _ = self.api("GET", "/")
        csp = headers.get("Content-Security-Policy", "")
        assert status == 200 and "script-src 'self'" in csp and "unsafe-inline" not in csp, f"CSP: {csp!r}"
        ok("the page is served with a strict Content-Security-Policy")

        self.driver.get(self.url + "/")
        self.wait("the sign-in form", lambda: self.visible("sign-in"))
        assert not self.visible("nav") and not self.visible("view-runs"), "only the sign-in form shows without a token"
        ok("without a token only the sign-in form shows")
        self.screenshot("sign-in")

        self.sign_in("not-a-valid-token")
        self.wait("the sign-in error", lambda: "failed" in self.driver.find_element(By.ID, "sign-in-error").text)
        assert not self.visible("nav"), "a wrong token shows nothing but the form"
        ok("a wrong token fails")

        self.sign_in(a.alice)
        self.wait("alice signed in", lambda: "alice" in self.driver.find_element(By.ID, "who").text and self.visible("view-runs"))
        ok("the right token signs in")
        cookies = {c["name"]: c for c in self.driver.get_cookies()}
        session = cookies.get("dstack_session")
        assert session and session.get("httpOnly") and session.get("sameSite") == "Strict", f"the session cookie: {session}"
        assert self.js("return document.cookie.indexOf('dstack_session') === -1;"), "the script can read the token"
        ok("the token is kept in an HttpOnly, SameSite=Strict cookie")
        self.wait("the live updates", lambda: self.visible("live"))

        # A run submitted elsewhere appears and reaches done without a reload.
        self.js("window.__notReloaded = true;")
        xss = self.submit(a.alice, XSS_NAME, ["echo xss-run"])
        cells = self.wait("the run to appear", lambda: self.run_row(xss))
        ok("a submitted run appears live")
        self.wait("the run to reach done", lambda: (self.run_row(xss) or [None] * 4)[3] == "done", timeout=90)
        assert self.js("return window.__notReloaded === true;"), "the page reloaded"
        ok("the run reaches done live, without a reload")
        cells = self.run_row(xss)
        assert cells[1] == XSS_NAME, f"the workflow cell shows {cells[1]!r}"
        assert not self.driver.find_elements(By.CSS_SELECTOR, "main img"), "the name became an <img> element"
        try:
            alert = self.driver.switch_to.alert
            raise AssertionError(f"an alert ran: {alert.text}")
        except NoAlertPresentException:
            pass
        ok("a run named <img src=x onerror=alert(1)> shows as text")

        # Another user's run is not shown, and the API refuses it to the cookie too.
        bobs = self.submit(a.bob, "bob-only", ["echo bob"])
        mine = self.submit(a.alice, "alice-after-bob", ["echo alice"])
        self.wait("alice's next run", lambda: self.run_row(mine))
        assert self.run_row(bobs) is None, "alice sees bob's run"
        assert "bob-only" not in self.driver.find_element(By.ID, "runs-table").text
        code = self.js("return fetch('/api/v1/runs/' + arguments[0]).then((r) => r.status);", bobs)
        assert code == 403, f"bob's run through alice's cookie: {code}"
        ok("a user does not see another user's runs")

        # A cookie-authenticated change without the custom header is refused (CSRF).
        status, _, body = self.api("POST", f"/api/v1/runs/{mine}/stop", headers={"Cookie": "dstack_session=" + a.alice})
        assert status == 403 and "X-Dstack-Request" in body, f"a cookie-only change: {status} {body}"
        ok("a change made with the cookie alone needs the X-Dstack-Request header")

        # The run's page streams its log.
        slow = self.submit(a.alice, "streams", ["echo first-line", "sleep 4", "echo second-line > result.txt", "cat result.txt"],
                           artifacts=["result.txt"])
        self.driver.get(self.url + "/#/run/" + slow)
        log = lambda: self.driver.find_element(By.ID, "run-log").text
        self.wait("the first line", lambda: "first-line" in log(), timeout=90)
        assert "second-line" not in log(), "both lines came at once: nothing was streamed"
        ok("the run's log shows its first line while the run runs")
        self.wait("the second line", lambda: "second-line" in log(), timeout=60)
        self.wait("the run page to say done", lambda: self.driver.find_element(By.ID, "run-facts").get_attribute("data-status") == "done")
        ok("its log streams live, and its status reaches done")
        self.driver.refresh()
        artifacts = lambda: self.driver.find_element(By.ID, "run-artifacts")
        self.wait("the run's artifacts", lambda: artifacts().get_attribute("data-state") == "complete" and artifacts().is_displayed())
        listed = self.driver.find_element(By.ID, "run-artifact-list").text
        assert "result.txt" in listed and "12 B" in listed, f"the run's artifacts: {listed!r}"
        ok("the run's page lists its artifacts")
        self.screenshot("run")

        # Keyboard: the views are links in the tab order.
        self.driver.get(self.url + "/#/runs")
        self.wait("the runs table", lambda: self.run_row(xss))
        body = self.driver.find_element(By.TAG_NAME, "body")
        reached = set()
        for _ in range(12):
            body.send_keys(Keys.TAB) if not reached else self.driver.switch_to.active_element.send_keys(Keys.TAB)
            reached.add(self.js("const e = document.activeElement; return e.textContent.trim();"))
        assert {"Runs", "Instances", "Rules", "Timeline", "Sign out"} <= reached, f"tab reached {reached}"
        self.js("[...document.querySelectorAll('nav a')].find((x) => x.textContent === 'Instances').focus();")
        self.driver.switch_to.active_element.send_keys(Keys.ENTER)
        self.wait("the instances view by keyboard", lambda: self.visible("view-instances"))
        ok("usable by keyboard: every view is reached with Tab and Enter")
        self.screenshot("runs-user")

        # Sign-out clears the session: a reload shows only the form.
        self.driver.find_element(By.ID, "sign-out").click()
        self.wait("the sign-in form after sign-out", lambda: self.visible("sign-in") and not self.visible("nav"))
        self.driver.refresh()
        self.wait("the sign-in form after a reload", lambda: self.visible("sign-in"))
        assert not self.visible("nav"), "signed in again after a reload"
        assert "dstack_session" not in {c["name"] for c in self.driver.get_cookies()}, "the cookie is still there"
        ok("sign-out works")

        # The admin sees every run, the fleet, the rules and the timeline, and can change a max.
        self.sign_in(a.admin)
        self.wait("the admin signed in", lambda: "(admin)" in self.driver.find_element(By.ID, "who").text)
        self.driver.get(self.url + "/#/runs")
        self.wait("bob's run for the admin", lambda: self.run_row(bobs))
        ok("an admin sees every user's runs")
        self.screenshot("runs")
        self.driver.get(self.url + "/#/instances")
        self.wait("an instance row", lambda: len(self.driver.find_elements(By.CSS_SELECTOR, "#instances-table tbody tr")) > 0)
        self.screenshot("instances")
        self.driver.get(self.url + "/#/timeline")
        self.wait("launch events", lambda: "launch" in self.driver.find_element(By.ID, "timeline").text)
        ok("the timeline shows launches")
        self.screenshot("timeline")
        self.driver.get(self.url + "/#/rules")
        button = self.wait("the change button", lambda: self.driver.find_element(By.CSS_SELECTOR, "#rules-table tbody button"))
        self.screenshot("rules")
        button.click()
        self.wait("the confirmation", lambda: self.js("return document.getElementById('confirm').open;"))
        field = self.driver.find_element(By.ID, "confirm-max")
        field.clear()
        field.send_keys("3")
        self.driver.find_element(By.ID, "confirm-ok").click()
        self.wait("the new max", lambda: self.driver.find_element(By.CSS_SELECTOR, "#rules-table tbody tr").text.split()[1] == "3")
        status, _, info = self.api("GET", "/api/v1/autoscale", a.admin)
        assert any(r["max"] == 3 for r in info["rules"]), info
        ok("an admin changes a max behind a confirmation")

        # Refused requests (the wrong token, bob's run) are logged by the network layer on
        # purpose; a script error or a Content-Security-Policy violation is not.
        errors = [e for e in self.driver.get_log("browser")
                  if e.get("level") == "SEVERE" and e.get("source") != "network" and "favicon" not in e.get("message", "")]
        assert not errors, f"the browser logged errors: {errors}"
        ok("no script errors or policy violations in the browser's console")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--admin", required=True)
    parser.add_argument("--alice", required=True)
    parser.add_argument("--bob", required=True)
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    args = parser.parse_args()
    check = Check(args)
    try:
        check.run_all()
    finally:
        check.close()


if __name__ == "__main__":
    sys.exit(main())
