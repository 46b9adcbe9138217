"""The web console's view of the API: TypeScript types generated from /api/openapi.json type-check
the console's flow, as the console's developers build it.

openapi-typescript 7 turns the app's own document into ``api.d.ts``; tests/typescript/console.ts
lists, creates, updates, flips the status of an image, lists and creates its versions and reads the
spawner feed in its three shapes through openapi-fetch, and asserts at type level what the console
relies on (``id: string``, the status union, which body fields are required, the feed's oneOf).
``tsc --strict --noEmit`` must find no error.

The pinned packages (tests/typescript/package-lock.json) are installed with ``npm ci`` into
tests/typescript/node_modules once, and again only when package.json or the lock changes (a
stamp in node_modules says which lock it holds). No network but the npm registry, for that install.

Without Node.js and npm the test is skipped, saying so, or fails where
``IMAGESVC_TEST_REQUIRE_NODE`` is set. To look at the types by hand, run this test: its
temporary folder keeps openapi.json, api.d.ts and the tsconfig.json that tsc was given.
"""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "typescript"
NODE_MODULES = HERE / "node_modules"
STAMP = NODE_MODULES / ".imagesvc-installed-lock"
NODE = shutil.which("node")
NPM = shutil.which("npm")
BIN = NODE_MODULES / ".bin"  # what npx would run: the pinned tools, never a download
OLDEST_NODE = 18  # openapi-typescript 7 and TypeScript 5 need Node.js 18 or newer
INSTALL_TIMEOUT = 600
TOOL_TIMEOUT = 180


def node_unavailable_reason():
    """None when Node.js (18 or newer) and npm are on PATH, else why not."""
    missing = [name for name, path in (("node", NODE), ("npm", NPM)) if path is None]
    if missing:
        return f"no {', '.join(missing)} on PATH (Node.js 18+ with npm is needed to type-check the TypeScript client)"
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    major = int(version.lstrip("v").split(".")[0]) if version.lstrip("v")[:1].isdigit() else 0
    if major < OLDEST_NODE:
        return f"Node.js {version or '(unknown version)'} is older than {OLDEST_NODE}"
    return None


def run(command, what, timeout=TOOL_TIMEOUT):
    """Run ``command`` in tests/typescript; its exit code and output (stdout and stderr together)."""
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0", "NO_UPDATE_NOTIFIER": "1",
           "npm_config_update_notifier": "false"}
    try:
        done = subprocess.run(command, cwd=HERE, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{what} took over {timeout}s: {' '.join(map(str, command))}\n{exc.output or ''}")
    return done.returncode, done.stdout


def lock_digest():
    return hashlib.sha256((HERE / "package.json").read_bytes() + (HERE / "package-lock.json").read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def typescript_toolchain():
    """tests/typescript/node_modules as package-lock.json pins it (``npm ci``, only when it is not already)."""
    reason = node_unavailable_reason()
    if reason and os.environ.get("IMAGESVC_TEST_REQUIRE_NODE"):
        pytest.fail(f"Node.js is required (IMAGESVC_TEST_REQUIRE_NODE) but unavailable: {reason}")
    if reason:
        pytest.skip(reason)
    # Two test runs in one checkout take turns: npm ci removes node_modules before it installs.
    with open(HERE / "package-lock.json", "rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        digest = lock_digest()
        installed = all((BIN / tool).exists() for tool in ("openapi-typescript", "tsc"))
        if not (installed and STAMP.is_file() and STAMP.read_text().strip() == digest):
            STAMP.unlink(missing_ok=True)
            code, output = run([NPM, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--prefer-offline",
                                "--loglevel=error"], "npm ci", timeout=INSTALL_TIMEOUT)
            if code != 0:
                pytest.fail(f"npm ci in {HERE} failed (exit {code}):\n{output}")
            STAMP.write_text(digest + "\n")
    return HERE


def test_console_flow_type_checks_against_types_generated_from_the_document(tmp_path, typescript_toolchain,
                                                                            openapi_document):
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(openapi_document, ensure_ascii=False, indent=1), encoding="utf-8")

    code, output = run([BIN / "openapi-typescript", str(document), "-o", str(tmp_path / "api.d.ts")],
                       "openapi-typescript")
    assert code == 0 and (tmp_path / "api.d.ts").is_file(), f"openapi-typescript failed (exit {code}):\n{output}"

    # The console's own settings, with @imagesvc/api pointing at the types just made.
    tsconfig = tmp_path / "tsconfig.json"
    tsconfig.write_text(json.dumps({
        "extends": str(typescript_toolchain / "tsconfig.json"),
        "compilerOptions": {"paths": {"@imagesvc/api": [str(tmp_path / "api")]}},
        "files": [str(typescript_toolchain / "console.ts")],
    }, indent=2))
    code, output = run([BIN / "tsc", "--strict", "--noEmit", "--pretty", "false", "-p", str(tsconfig)],
                       "tsc")

    errors = [line for line in output.splitlines() if ": error TS" in line or line.startswith("error TS")]
    assert code == 0 and not errors, (
        f"tsc --strict found {len(errors)} error(s) in tests/typescript/console.ts against the types generated "
        f"from /api/openapi.json (exit {code}; document, api.d.ts and tsconfig.json kept in {tmp_path}):\n{output}")
