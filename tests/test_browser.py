"""The docs page in a real browser: headless Chromium opens /api/docs from a live gunicorn, sees
the operations of the eight original endpoints, and makes no request to any other host.

Chromium is driven over the DevTools protocol (a small client on ``websocket-client``), which
reports every request the page makes, whatever made it (HTML, CSS, scripts, fonts, fetch). A
screenshot is left in test-artifacts/docs-page.png. Nothing is installed here: without Chromium
(``apt-get install chromium``; .ci/run does it) the test is skipped, saying so, or fails
where ``IMAGESVC_TEST_REQUIRE_BROWSER`` is set (as .ci/run sets it).
"""

import base64
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from urllib.parse import urlsplit

import pytest

from bench.server import ROOT

from .conftest import live_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"
# The original document's endpoints, as the page shows them.
ORIGINAL_OPERATIONS = {
    ("GET", "/api/images"), ("POST", "/api/images"),
    ("GET", "/api/images/{id}"), ("PUT", "/api/images/{id}"), ("DELETE", "/api/images/{id}"),
    ("PUT", "/api/images/{id}/status"),
    ("GET", "/api/images/{id}/versions"), ("POST", "/api/images/{id}/versions"),
}
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--remote-debugging-port=0", "--window-size=1280,1600",
]
TIMEOUT = 30


@pytest.fixture(autouse=True)
def needs_chromium():
    if CHROMIUM is None:
        reason = "no Chromium on PATH (apt-get install chromium; .ci/run does)"
        if os.environ.get("IMAGESVC_TEST_REQUIRE_BROWSER"):
            pytest.fail(f"a browser is required (IMAGESVC_TEST_REQUIRE_BROWSER) but missing: {reason}")
        pytest.skip(reason)


class DevTools:
    """A minimal DevTools-protocol client for one page: commands in, events collected."""

    def __init__(self, websocket_url):
        import websocket

        self.socket = websocket.create_connection(websocket_url, timeout=TIMEOUT, suppress_origin=True)
        self.last_id = 0
        self.events = []

    def call(self, method, **params):
        self.last_id += 1
        self.socket.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.last_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_until(self, expression, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {timeout}s: {expression}")
            time.sleep(0.2)

    def screenshot(self, path, full_page=False):
        """Save a PNG of the viewport, or of the whole page."""
        params = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", **params)["data"]))

    def close(self):
        self.socket.close()


@pytest.fixture
def chromium(tmp_path):
    """A headless Chromium with a new profile; yields a DevTools client for its page."""
    profile = tmp_path / "chromium-profile"
    with open(tmp_path / "chromium.log", "wb") as log:
        process = subprocess.Popen([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    devtools = None
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + TIMEOUT
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Chromium did not start:\n{(tmp_path / 'chromium.log').read_text()}")
            time.sleep(0.1)
        port = port_file.read_text().splitlines()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            [page] = [target for target in json.load(answer) if target["type"] == "page"]
        devtools = DevTools(page["webSocketDebuggerUrl"])
        yield devtools
    finally:
        if devtools is not None:
            devtools.close()
        # Chromium runs helper processes in the session it leads: end them all with it.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_docs_page_renders_every_original_endpoint_from_this_service_alone(tmp_path, chromium):
    with live_server(tmp_path, workers=1) as server:
        for domain in ("Network", "Page", "Runtime", "Log"):
            chromium.call(f"{domain}.enable")
        chromium.call("Page.navigate", url=f"{server.url}/api/docs")
        chromium.wait_until("document.querySelectorAll('.opblock').length >= 8")
        # Network idle: nothing more is on its way.
        time.sleep(0.5)
        operations = chromium.evaluate("""JSON.stringify([...document.querySelectorAll('.opblock')].map(block => [
            block.querySelector('.opblock-summary-method').textContent.trim(),
            block.querySelector('.opblock-summary-path').getAttribute('data-path')]))""")
        has_authorize = chromium.evaluate("!!document.querySelector('.auth-wrapper .authorize')")
        title = chromium.evaluate("document.querySelector('.info .title').textContent")
        chromium.screenshot(ARTIFACTS / "docs-page.png", full_page=True)

        # Open "Create an image": its body schema speaks the contract's camelCase.
        chromium.evaluate("""[...document.querySelectorAll('.opblock-post')].find(block =>
            block.querySelector('.opblock-summary-path').getAttribute('data-path') === '/api/images')
            .querySelector('.opblock-summary-control').click()""")
        chromium.wait_until("!!document.querySelector('.opblock.is-open .model-example')")
        opened = chromium.evaluate("""(() => { const block = document.querySelector('.opblock.is-open');
            block.scrollIntoView(); return block.innerText; })()""")
        chromium.screenshot(ARTIFACTS / "docs-page-create-image.png")

    requested = [event["params"]["request"]["url"] for event in chromium.events
                 if event["method"] == "Network.requestWillBeSent"]
    failed = [event["params"] for event in chromium.events if event["method"] == "Network.loadingFailed"]
    errors = [event["params"] for event in chromium.events if event["method"] == "Runtime.exceptionThrown"]
    service = urlsplit(server.url).netloc
    elsewhere = [url for url in requested if urlsplit(url).scheme not in ("data", "blob")
                 and urlsplit(url).netloc != service]

    assert ORIGINAL_OPERATIONS <= {tuple(operation) for operation in json.loads(operations)}
    assert has_authorize  # the bearer scheme
    assert title.startswith("imagesvc")
    assert "imageAddress" in opened and "applicableScopes" in opened
    assert f"{server.url}/api/openapi.json" in requested
    assert any(url.endswith("/api/docs/assets/swagger-ui-bundle.js") for url in requested)
    assert elsewhere == [], "the docs page asked other hosts"
    assert failed == [] and errors == []
    assert (ARTIFACTS / "docs-page.png").stat().st_size > 10_000
