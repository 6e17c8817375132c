"""Browser check of a running deployment: what a user sees in the Airflow UI, in Debian's headless Chromium.

Called by scripts/deploy_test.py once the example DAG run succeeded (the deployment is still up). It checks,
on the page's DOM (never on pixels):

1. the connection form for type FATE Flow: the extra fields, their labels and order (FATE Board URL,
   default role and party id before the tuning), the role is a choice of guest/host/arbiter/local, TLS
   verification is a toggle; a connection saved from the form stores no value the user did not set;
2. the Test button: its success message, and the fail-fast message of a connection with a wrong port;
3. the FATE Board extra link of the training task (it names the FATE job);
4. the Providers page: the package name links to the project's documentation URL.

Screenshots go to the given folder (git-ignored ``.airflow/browser/`` by default); ``--docs-images``
also refreshes the README's ``docs/img/connection-form.png`` and ``docs/img/task-log.png``.

Chromium and chromedriver come from Debian (``scripts/install_browser.sh``); selenium drives them with
explicit paths, so nothing is downloaded.
"""
from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,1000",
)
#: Generous: the machine is shared and loaded; every wait ends as soon as the page is right.
WAIT = 60.0
CONN_ID = "fateflow_browser"
WRONG_PORT_CONN_ID = "fateflow_wrong_port"
EXPECTED_FIRST = ["FATE Board URL", "Default role", "Default party id"]
EXPECTED_ROLES = ["guest", "host", "arbiter", "local"]


def _api(api: str, method: str, path: str, body: dict | None = None) -> Any:
    token = json.loads(urllib.request.urlopen(f"{api}/auth/token", timeout=30).read())["access_token"]  # noqa: S310
    request = urllib.request.Request(
        f"{api}{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback only
        return json.loads(answer.read() or b"{}")


class Check:
    """One browser session; collects failures instead of stopping at the first."""

    def __init__(self, api: str, shots: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        self.api = api
        self.shots = shots
        shots.mkdir(parents=True, exist_ok=True)
        self.profile = tempfile.mkdtemp(prefix="fateflow-chromium-")
        options = Options()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.failures: list[str] = []

    def close(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)

    # -- helpers -------------------------------------------------------------------------------------
    def sign_in(self) -> None:
        """Open Home once: the simple auth manager signs the browser in (on 3.1 a first deep link lands on Home)."""
        from selenium.webdriver.common.by import By

        self.driver.get(f"{self.api}/")
        self.until("the signed-in UI", lambda: "/auth/" not in self.driver.current_url
                   and "Dags" in self.driver.find_element(By.TAG_NAME, "body").text)

    def goto(self, path: str) -> None:
        """Open a UI page, and make sure the UI stayed there."""
        self.driver.get(f"{self.api}{path}")
        self.until(f"the page {path}", lambda: urllib.parse.unquote(urllib.parse.urlsplit(self.driver.current_url).path)
                   == urllib.parse.unquote(path))

    def until(self, what: str, probe: Callable[[], Any], timeout: float = WAIT) -> Any:
        """Poll ``probe`` until it returns something truthy; raise naming ``what`` after ``timeout`` s."""
        from selenium.common.exceptions import WebDriverException

        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                value = probe()
                if value:
                    return value
                last = value
            except WebDriverException as exc:  # not rendered yet, or re-rendered under us
                last = type(exc).__name__
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.until(f"element {css}", lambda: self.driver.find_element(By.CSS_SELECTOR, css))

    def button(self, text: str) -> Any:
        from selenium.webdriver.common.by import By

        xpath = f"//button[normalize-space(.)={json.dumps(text)}]"
        return self.until(f"button {text!r}", lambda: self.driver.find_element(By.XPATH, xpath))

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            self.failures.append(message)

    def step(self, name: str, body: Callable[[], None]) -> None:
        started = time.monotonic()
        try:
            body()
        except Exception as exc:  # a step that breaks is a failure of that step, the others still run
            self.failures.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            self.shot(f"failed-{name}")
        print(f"  browser: {name} ({time.monotonic() - started:.1f} s)", flush=True)

    def toast(self, contains: str) -> str:
        """The text of the notification that contains ``contains`` (the Test button answers in one)."""
        from selenium.webdriver.common.by import By

        def probe() -> str | None:
            for toast in self.driver.find_elements(By.CSS_SELECTOR, "[data-scope=toast][data-part=root]"):
                if contains in toast.text:
                    return toast.text
            return None

        return self.until(f"a notification containing {contains!r}", probe)

    def test_button_of(self, conn_id: str) -> Any:
        from selenium.webdriver.common.by import By

        xpath = f"//tr[.//*[normalize-space(text())={json.dumps(conn_id)}]]//button[@aria-label='Test Connection']"
        return self.until(f"the Test button of {conn_id}", lambda: self.driver.find_element(By.XPATH, xpath))

    # -- the checks ------------------------------------------------------------------------------------
    def connection_form(self, flow_port: int, docs_images: bool) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        driver = self.driver
        self.goto("/connections")
        self.button("Add Connection").click()
        self.find("input[name=connection_id]").send_keys(CONN_ID)
        kind = self.find("[role=dialog] input[aria-autocomplete=list]")
        kind.send_keys("FATE Flow")
        kind.send_keys(Keys.ENTER)
        self.button("Extra Fields").click()
        self.find("[name=element_retry_max_delay]")
        labels = [label.text.strip() for label in driver.find_elements(By.CSS_SELECTOR, "[role=dialog] label")]
        extra = labels[labels.index("FATE Board URL"):] if "FATE Board URL" in labels else []
        self.expect(extra[:3] == EXPECTED_FIRST, f"form: the first extra fields are {extra[:3]}, not {EXPECTED_FIRST}")
        for label in ("API version", "Disable TLS verification", "CA bundle path", "Proxies (JSON)",
                      "Connect timeout (s)", "Read timeout (s)", "Retry attempts"):
            self.expect(label in extra, f"form: no field labelled {label!r} (labels: {extra})")
        self.expect(extra.index("Default party id") < extra.index("Connect timeout (s)") if extra else False,
                    "form: tuning fields come before the default party id")

        toggle = self.find("input[name=element_disable_tls_verify]")
        self.expect(toggle.get_attribute("type") == "checkbox" and not toggle.is_selected(),
                    "form: 'Disable TLS verification' is not an unset toggle")
        for name in ("element_board_url", "element_initiator_party_id", "element_connect_timeout"):
            value = self.find(f"input[name={name}]").get_attribute("value")
            self.expect(value == "", f"form: {name} is pre-filled with {value!r}")

        options = self.choose("initiator_role", "guest")
        self.expect(options == EXPECTED_ROLES, f"form: the role choices are {options}, not {EXPECTED_ROLES}")
        self.find("input[name=element_board_url]").send_keys("http://127.0.0.1:8080")
        self.find("input[name=element_initiator_party_id]").send_keys("9999")

        self.button("Standard Fields").click()
        self.find("input[name=host]").send_keys("127.0.0.1")
        self.find("input[name=port]").send_keys(str(flow_port))
        self.button("Extra Fields").click()  # show the extras again for the screenshot
        self.find("[name=element_retry_max_delay]")
        driver.execute_script("document.querySelector('[role=dialog] [data-part=body], [role=dialog]').scrollTop = 0")
        shot = self._full_dialog_shot("connection-form")
        if docs_images:
            shutil.copy(shot, REPO / "docs" / "img" / "connection-form.png")
        self.button("Save").click()
        self.test_button_of(CONN_ID)

        stored = _api(self.api, "GET", f"/api/v2/connections/{CONN_ID}")
        extra_saved = json.loads(stored.get("extra") or "{}")
        set_values = {k: v for k, v in extra_saved.items() if v not in (None, "", {})}
        self.expect(set_values == {"board_url": "http://127.0.0.1:8080", "initiator_role": "guest",
                                   "initiator_party_id": 9999},
                    f"form: the saved connection stores values the user did not set: {set_values}")

    def choose(self, field: str, value: str) -> list[str]:
        """Pick ``value`` in the choice field of extra ``field``; return the choices it offered.

        Airflow 3.3 renders a choice with react-select, 3.1 with Chakra's select.
        """
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        driver = self.driver
        react = driver.find_elements(By.CSS_SELECTOR, f"#element_{field} input")
        if react:
            react[0].click()
            options = self.until(f"the {field} choices", lambda: [
                o.text for o in driver.find_elements(By.CSS_SELECTOR, "[id^=react-select][id*=-option-]")])
            react[0].send_keys(value)
            react[0].send_keys(Keys.ENTER)
            return options
        self.find(f"[id='select:element_{field}:trigger']").click()
        items = f"[id^='select:element_{field}:option:']"
        options = self.until(f"the {field} choices", lambda: [
            o.get_attribute("data-value") for o in driver.find_elements(By.CSS_SELECTOR, items) if o.is_displayed()])
        driver.find_element(By.CSS_SELECTOR, f"[id='select:element_{field}:option:{value}']").click()
        return options

    def _full_dialog_shot(self, name: str) -> Path:
        """A screenshot tall enough for the whole dialog (the window grows for it, then shrinks back)."""
        height = self.driver.execute_script(
            "const d = document.querySelector('[role=dialog]'); return d ? d.scrollHeight + 160 : 1000")
        self.driver.set_window_size(1400, max(1000, min(int(height), 4000)))
        time.sleep(0.5)  # let the layout settle after the resize
        try:
            return self.shot(name)
        finally:
            self.driver.set_window_size(1400, 1000)

    def test_button(self, flow_port: int) -> None:
        self.goto("/connections")
        self.test_button_of(CONN_ID).click()
        expected = f"Connected to FATE Flow at http://127.0.0.1:{flow_port}/v1/ (FATE "
        text = self.toast(expected)
        self.expect(expected in text, f"test: success toast reads {text!r}")
        self.shot("test-success")

        with socket.socket() as closed:  # bound, not listening: connections to it are refused
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
            _api(self.api, "POST", "/api/v2/connections", {
                "connection_id": WRONG_PORT_CONN_ID, "conn_type": "fateflow", "host": "127.0.0.1", "port": port,
                "extra": json.dumps({"retry_limit": 5}),
            })
            self.goto("/connections")
            started = time.monotonic()
            self.test_button_of(WRONG_PORT_CONN_ID).click()
            expected = f"Nothing listens at 127.0.0.1:{port} (connection refused). Check Host and Port"
            text = self.toast(expected)
            print(f"  browser: wrong-port answer after {time.monotonic() - started:.1f} s", flush=True)
        self.expect("Max retries" not in text and len(text) < 400, f"test: failure toast reads {text!r}")
        self.shot("test-wrong-port")

    def fate_board_link(self, dag_id: str, run_id: str, docs_images: bool) -> None:
        from selenium.webdriver.common.by import By

        base = f"/dags/{dag_id}/runs/{urllib.parse.quote(run_id)}/tasks/train"
        self.goto(base)
        self.until("the task log", lambda: "FATE Board:" in self.driver.find_element(By.TAG_NAME, "body").text)
        self.driver.set_window_size(1400, 600)
        try:
            shot = self.shot("task-log")
        finally:
            self.driver.set_window_size(1400, 1000)
        if docs_images:
            shutil.copy(shot, REPO / "docs" / "img" / "task-log.png")
        self.goto(f"{base}/details")
        link = self.until("the FATE Board extra link", lambda: self.driver.find_element(
            By.XPATH, "//a[normalize-space(.)='FATE Board']"))
        href = link.get_attribute("href") or ""
        self.expect(href.startswith("http://127.0.0.1:8080/index.html#/dashboard?job_id=")
                    and "role=guest" in href and "party_id=9999" in href,
                    f"link: FATE Board points at {href!r}")
        self.shot("fate-board-link")

    def providers_page(self) -> None:
        from selenium.webdriver.common.by import By

        from airflow_provider_fateflow.get_provider_info import PROJECT_URL

        self.goto("/providers")
        link = self.until("the provider on the Providers page", lambda: self.driver.find_element(
            By.CSS_SELECTOR, "a[aria-label=airflow-provider-fateflow]"))
        self.expect(link.get_attribute("href") == f"{PROJECT_URL}#readme",
                    f"providers: the package name links to {link.get_attribute('href')!r}")
        homes = [a.get_attribute("href") for a in self.driver.find_elements(By.CSS_SELECTOR, "a")
                 if a.text.strip() == PROJECT_URL]
        self.expect(homes == [PROJECT_URL], f"providers: no home link in the description ({homes})")
        self.shot("providers")


def run(*, api: str, dag_id: str, run_id: str, flow_port: int, shots: Path, docs_images: bool = False) -> list[str]:
    """Run every check against a deployment; return the failures (empty: all passed).

    :param api: the API server's base URL, e.g. ``http://127.0.0.1:8080``.
    :param dag_id: the DAG whose run has a ``train`` task with a FATE Board link.
    :param run_id: that run.
    :param flow_port: the sandbox's port (the form's connection points there).
    :param shots: folder for screenshots.
    :param docs_images: also copy the connection form and the task log to ``docs/img/``.
    """
    for conn_id in (CONN_ID, WRONG_PORT_CONN_ID):  # a rerun against the same deployment starts clean
        try:
            _api(api, "DELETE", f"/api/v2/connections/{conn_id}")
        except urllib.error.HTTPError as err:
            if err.code != 404:
                raise
    check = Check(api, shots)
    try:
        check.step("sign in", check.sign_in)
        check.step("connection form", lambda: check.connection_form(flow_port, docs_images))
        check.step("test button", lambda: check.test_button(flow_port))
        check.step("FATE Board link", lambda: check.fate_board_link(dag_id, run_id, docs_images))
        check.step("providers page", check.providers_page)
    finally:
        check.close()
    print(f"  browser: screenshots in {shots}", flush=True)
    return check.failures


if __name__ == "__main__":  # against a deployment kept up with `deploy_test.py --hold N`
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True)
    parser.add_argument("--dag-id", default="example_fateflow_train_and_deploy")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--flow-port", type=int, required=True)
    parser.add_argument("--shots", default=str(REPO / ".airflow" / "browser"))
    parser.add_argument("--docs-images", action="store_true")
    args = parser.parse_args()
    problems = run(api=args.api, dag_id=args.dag_id, run_id=args.run_id, flow_port=args.flow_port,
                   shots=Path(args.shots), docs_images=args.docs_images)
    for problem in problems:
        print(f"  BROWSER FAIL: {problem}")
    raise SystemExit(1 if problems else 0)
