"""A real `opendata serve` on a free port, with the bundled datasets published into a
temporary data folder; stopped when the session ends."""

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _binary() -> str:
    binary = os.environ.get("OPENDATA_BIN")
    if not binary:
        target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
        binary = str(Path(target) / "debug" / "opendata")
    assert Path(binary).is_file(), f"no opendata binary at {binary}: run `make test`"
    return binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    def __init__(self, base: str):
        self.base = base

    def get(self, path: str, headers=None):
        """(status, headers, body bytes) of a GET, errors included."""
        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, path: str):
        status, _, body = self.get(path)
        return status, json.loads(body)


def publish(data_dir, folder=ROOT / "datasets"):
    env = dict(os.environ, RUST_LOG="warn")
    subprocess.run([_binary(), "publish", "--data-dir", str(data_dir), str(folder)], check=True, env=env)


@contextlib.contextmanager
def serve(data_dir, **env_extra):
    """`opendata serve` on a free port over `data_dir`, stopped on exit."""
    # The checks send requests faster than any person; the limits are tested on their own.
    env = dict(os.environ, RUST_LOG="warn", OPENDATA_RATE_LIMIT="off", **env_extra)
    port = _free_port()
    # The server stops when its standard input closes, even if pytest is killed.
    server = subprocess.Popen(
        [_binary(), "serve", "--data-dir", str(data_dir), "--addr", f"127.0.0.1:{port}", "--exit-on-stdin-eof"],
        env=env,
        stdin=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "opendata serve did not start"
                assert server.poll() is None, "opendata serve exited"
                time.sleep(0.05)
        yield Api(f"http://127.0.0.1:{port}")
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def api(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    publish(data_dir)
    with serve(data_dir) as api:
        yield api
