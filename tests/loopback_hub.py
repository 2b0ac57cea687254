"""Loopback Hub fixtures (a pytest plugin of tests/conftest.py): a recording upload endpoint, git mirrors served
by ``olah``, fresh interpreters.

* :class:`RecordingHub` answers the Hub HTTP calls ``HfApi.create_repo`` / ``upload_folder`` make
  (``/api/repos/create``, ``/api/validate-yaml``, ``preupload`` with every file "regular", ``commit``) and
  keeps every file of every commit, so a test can check exactly what a push sends.
* :func:`git_mirror` turns recorded files into a git repository laid out as ``olah`` expects
  (``<mirrors>/<type>s/<org>/<name>``); :func:`olah_server` serves it on 127.0.0.1 over the Hub API.
* :func:`run_without_hf_causal` runs Python in a fresh interpreter where ``hf_causal`` cannot be imported.

Only loopback addresses; every wait is bounded.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import types
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"


def sockets_available() -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK, 0))
            s.listen(1)
        return True
    except OSError:
        return False


@pytest.fixture
def loopback() -> None:
    """Skip the test where loopback sockets cannot be opened."""
    if not sockets_available():
        pytest.skip("loopback sockets are unavailable here")


class RecordingHub:
    """A minimal Hub upload API on loopback that records every request and committed file."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.created: list[dict] = []
        self.commits: list[dict] = []
        self.auth_headers: list[str | None] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _reply(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _entry_not_found(self, method: str) -> None:
                # an empty repo: every file lookup is the Hub's "entry not found"
                hub.requests.append((method, self.path))
                body = json.dumps({"error": "Entry not found"}).encode()
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if method == "GET":
                    self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                self._entry_not_found("GET")

            def do_HEAD(self) -> None:  # noqa: N802
                self._entry_not_found("HEAD")

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                path = self.path.split("?")[0]
                hub.requests.append(("POST", path))
                hub.auth_headers.append(self.headers.get("Authorization"))
                if path == "/api/repos/create":
                    data = json.loads(body)
                    hub.created.append(data)
                    prefix = "" if data.get("type", "model") == "model" else f"{data['type']}s/"
                    repo_id = f"{data['organization']}/{data['name']}" if data.get("organization") else data["name"]
                    return self._reply(200, {"url": f"{hub.url}/{prefix}{repo_id}", "name": repo_id})
                if path == "/api/validate-yaml":
                    return self._reply(200, {"errors": [], "warnings": []})
                match = re.fullmatch(r"/api/(\w+)s/(.+)/(preupload|commit)/([^/]+)", path)
                if match is None:
                    return self._reply(404, {"error": f"unknown route {path}"})
                repo_type, repo_id, action, revision = match.groups()
                if action == "preupload":
                    files = json.loads(body)["files"]
                    return self._reply(
                        200,
                        {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]},
                    )
                commit = {"repo_type": repo_type, "repo_id": repo_id, "revision": revision, "files": {}}
                for line in body.splitlines():
                    item = json.loads(line)
                    if item["key"] == "header":
                        commit["summary"] = item["value"].get("summary")
                    elif item["key"] == "file":
                        value = item["value"]
                        assert value.get("encoding") == "base64"
                        commit["files"][value["path"]] = base64.b64decode(value["content"])
                    else:  # lfsFile / deletedFile would need storage this recorder does not offer
                        return self._reply(400, {"error": f"unsupported commit entry {item['key']}"})
                oid = hashlib.sha1(repr(sorted(commit["files"].items())).encode()).hexdigest()
                commit["oid"] = oid
                hub.commits.append(commit)
                return self._reply(200, {"commitUrl": f"{hub.url}/{repo_id}/commit/{oid}", "commitOid": oid})

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def recording_hub(loopback: None) -> Iterator[RecordingHub]:
    """A running :class:`RecordingHub` (in-process thread)."""
    with RecordingHub() as hub:
        yield hub


@pytest.fixture
def hub_online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lift the suite-wide ``HF_HUB_OFFLINE=1`` for an in-process upload to a loopback endpoint."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


@pytest.fixture
def default_endpoint(recording_hub: RecordingHub, hub_online: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point huggingface_hub's default endpoint (what ``HF_ENDPOINT`` sets) at the recording Hub, in-process,
    for APIs without an ``endpoint`` argument such as transformers' ``model.push_to_hub``."""
    import transformers.utils.hub as transformers_hub
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", recording_hub.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", recording_hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(transformers_hub, "_hf_api", None, raising=False)  # transformers caches one HfApi
    return recording_hub.url


def git_mirror(mirrors: Path, repo_type: str, repo_id: str, files: dict[str, bytes]) -> Path:
    """Write ``files`` into a fresh git repo at ``mirrors/<repo_type>s/<repo_id>`` and commit them."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed (olah serves git repositories)")
    repo = mirrors / f"{repo_type}s" / repo_id
    repo.mkdir(parents=True)
    for rel, content in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(content)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "hf-causal tests",
        "GIT_AUTHOR_EMAIL": "tests@example.invalid",
        "GIT_COMMITTER_NAME": "hf-causal tests",
        "GIT_COMMITTER_EMAIL": "tests@example.invalid",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "recorded push"]):
        subprocess.run(["git", *cmd], cwd=repo, env=env, check=True, capture_output=True, timeout=30)
    return repo


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def olah_server(mirrors: Path, workdir: Path, timeout: float = 40.0) -> Iterator[str]:
    """Run ``olah`` (offline, serving ``mirrors``) on a free loopback port; yield its URL."""
    pytest.importorskip("olah", reason="olah (dev extra) is not installed")
    port = _free_port()
    config = workdir / "olah.toml"
    config.write_text(
        "[basic]\n"
        f'host = "{LOOPBACK}"\nport = {port}\n'
        f'repos-path = "{(workdir / "olah-cache").as_posix()}"\n'
        f'mirrors-path = ["{mirrors.as_posix()}"]\n'
        f'mirror-netloc = "{LOOPBACK}:{port}"\nmirror-lfs-netloc = "{LOOPBACK}:{port}"\n'
        "[accessibility]\noffline = true\n"
    )
    log = open(workdir / "olah.out", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "olah.server", "-c", str(config), "--log-path", str(workdir / "olah-logs")],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"olah exited early:\n{(workdir / 'olah.out').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/api/whoami-v2", timeout=2)
                break
            except OSError as err:
                if getattr(err, "code", None) is not None:  # an HTTP error status: the server is up
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"olah did not start within {timeout:.0f}s") from err
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


BLOCKER = r'''
import importlib.abc, sys
class _BlockHfCausal(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "hf_causal" or name.startswith("hf_causal."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None
# drop the editable-install finder and any path entry inside the source checkout
sys.meta_path[:] = [_BlockHfCausal()] + [
    f for f in sys.meta_path if "editable" not in (getattr(f, "__module__", "") or "").lower()
    and "editable" not in (getattr(f, "__name__", "") or "").lower()
]
sys.path[:] = [
    p for p in sys.path
    if p and p != REPO_ROOT and not (p.startswith(REPO_ROOT + "/") and "site-packages" not in p)
]
try:
    import hf_causal  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("hf_causal is still importable")
'''


def run_python(code: str, cwd: Path, env: dict[str, str], timeout: float = 120.0) -> dict:
    """Run ``code`` in a fresh interpreter; it must print one JSON object on its last stdout line."""
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise AssertionError(f"subprocess failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fresh_env(tmp: Path, **extra: str) -> dict[str, str]:
    """Environment for a fresh interpreter: private HF caches, no PYTHONPATH, no inherited Hub settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "PYTHONPATH"))}
    env.update(
        HF_HOME=str(tmp / "hf-home"),
        HF_MODULES_CACHE=str(tmp / "hf-modules"),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        TRANSFORMERS_VERBOSITY="error",
        OMP_NUM_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
        **extra,
    )
    return env


def blocker_prelude() -> str:
    """Code that makes ``import hf_causal`` fail in the interpreter it runs in."""
    return f"REPO_ROOT = {str(REPO_ROOT)!r}\n" + BLOCKER


@pytest.fixture
def hubtools() -> types.SimpleNamespace:
    """The helpers above, for test modules (which should not import conftest by name)."""
    return types.SimpleNamespace(
        git_mirror=git_mirror,
        olah_server=olah_server,
        entry_not_found_shim=entry_not_found_shim,
        run_python=run_python,
        fresh_env=fresh_env,
        blocker_prelude=blocker_prelude,
        repo_root=REPO_ROOT,
    )


class _EntryNotFoundShim:
    """Loopback pass-through proxy in front of olah that fixes one olah deviation from the Hub API.

    olah 0.5.4 answers a request for a file *missing* from a local git mirror with ``401 RepoNotFound`` (HEAD)
    or ``500`` (GET); huggingface.co answers ``404 EntryNotFound``. transformers probes optional files
    (``adapter_config.json`` when peft is installed) and treats ``RepoNotFound`` as fatal, so this proxy
    rewrites exactly that case (a ``/resolve/`` path of an existing repo whose file list lacks the path)
    and forwards everything else byte for byte.
    """

    def __init__(self, upstream: str) -> None:
        import http.client
        from urllib.parse import urlsplit

        target = urlsplit(upstream)
        self.rewritten: list[str] = []
        shim = self

        def files_of(repo_id: str, revision: str) -> set[str] | None:
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            try:
                conn.request("GET", f"/api/models/{repo_id}/revision/{revision}")
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    return None
                return {s["rfilename"] for s in json.loads(body).get("siblings") or []}
            finally:
                conn.close()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self, method: str) -> None:
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    conn.request(method, self.path, headers=headers)
                    resp = conn.getresponse()
                    body = resp.read()
                    match = re.fullmatch(r"/(?!api/)(.+?/.+?)/resolve/([^/]+)/(.+)", self.path.split("?")[0])
                    if resp.status in (401, 404, 500) and match is not None:
                        repo_id, revision, file_path = match.groups()
                        files = files_of(repo_id, revision)
                        if files is not None and file_path not in files:
                            shim.rewritten.append(file_path)
                            payload = json.dumps({"error": "Entry not found"}).encode()
                            self.send_response(404)
                            self.send_header("X-Error-Code", "EntryNotFound")
                            self.send_header("X-Error-Message", "Entry not found")
                            self.send_header("Content-Type", "application/json")
                            self.send_header("Content-Length", str(len(payload)))
                            self.end_headers()
                            if method == "GET":
                                self.wfile.write(payload)
                            return
                    self.send_response(resp.status)
                    for key, value in resp.getheaders():
                        if key.lower() not in ("transfer-encoding", "connection", "server", "date"):
                            self.send_header(key, value)
                    self.end_headers()
                    if method == "GET":
                        self.wfile.write(body)
                finally:
                    conn.close()

            def do_GET(self) -> None:  # noqa: N802
                self._forward("GET")

            def do_HEAD(self) -> None:  # noqa: N802
                self._forward("HEAD")

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> _EntryNotFoundShim:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def entry_not_found_shim(upstream: str) -> _EntryNotFoundShim:
    """See :class:`_EntryNotFoundShim` (use as a context manager; ``.url`` is the proxy's address)."""
    return _EntryNotFoundShim(upstream)
