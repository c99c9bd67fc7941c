"""The walk-through's four terminals as subprocesses: a Prefect server on its own port (with
PREFECT_API_URL set, so the UI calls that port), the sandbox, the work pool and deployments, and a
process worker. Everything lives in one temporary directory (PREFECT_HOME, the sandbox's info
file, each process's log) and every process is stopped on exit, by its own process group.

Used by tests/ui/test_walkthrough.py; also runnable on its own to look at the UI by hand:
`.venv/bin/python -m tests.ui.stack` prints the URL and keeps everything up until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
POOL = "plmigrate-process"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    """Start with `with Stack(tmp) as stack:`; `stack.ui` is the UI's URL, `stack.info` the sandbox's
    info file, `stack.env` the environment every Prefect command here runs with."""

    def __init__(self, tmp: Path, port: int | None = None) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.port = port or free_port()
        self.ui = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.ui}/api"
        self.info = tmp / "sandbox" / "info.json"
        self.env = os.environ | {
            # The server's UI asks PREFECT_API_URL where the API is; without it, it calls :4200.
            "PREFECT_API_URL": self.api,
            "PREFECT_HOME": str(tmp / "prefect-home"),
            "PREFECT_CLI_PROMPT": "false",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            # The worker's poll (10 s by default) is most of a run's start-up time.
            "PREFECT_WORKER_QUERY_SECONDS": "2",
        }
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.seconds: dict[str, float] = {}  # how long each start-up step took

    # -- processes ---------------------------------------------------------------------------

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def spawn(self, name: str, *args: str, cwd: Path = ROOT) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            list(args),
            cwd=cwd,
            env=self.env,
            stdout=self.log(name).open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its children
        )
        self.processes.append((name, process))
        return process

    def run(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(list(args), cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def wait_for(
        self, what: str, check: Callable[[], bool], timeout: float, process: subprocess.Popen[bytes] | None = None
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{what}: the process exited {process.returncode}; see {self.tmp}")
            try:
                if check():
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{what}: not ready within {timeout:.0f} s; logs in {self.tmp}")

    # -- the four terminals ----------------------------------------------------------------

    def start(self) -> Stack:
        started = time.monotonic()
        server = self.spawn(
            "server", str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)
        )
        self.info.parent.mkdir(parents=True, exist_ok=True)
        sandbox = self.spawn("sandbox", str(BIN / "plmigrate"), "sandbox", "serve", "--info", str(self.info))

        def healthy() -> bool:
            with urllib.request.urlopen(f"{self.api}/health", timeout=5) as response:
                return response.status == 200

        self.wait_for("prefect server", healthy, 180, server)
        self.seconds["server healthy"] = time.monotonic() - started
        self.wait_for("sandbox", self.info.is_file, 60, sandbox)
        mark = time.monotonic()
        self.run(str(BIN / "prefect"), "work-pool", "create", POOL, "--type", "process", "--overwrite")
        self.run(str(BIN / "prefect"), "--no-prompt", "deploy", "--all", timeout=240)
        self.seconds["work pool and deploy"] = time.monotonic() - mark
        # The worker starts outside the project, as a person's may: the pull step finds the code.
        worker_dir = self.tmp / "worker"
        worker_dir.mkdir(exist_ok=True)
        self.spawn("worker", str(BIN / "prefect"), "worker", "start", "--pool", POOL, cwd=worker_dir)
        return self

    def stop(self) -> None:
        for _, process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _, process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.processes.clear()

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- the sandbox, as the storage account's owner ------------------------------------------

    def subscription(self) -> str:
        return str(json.loads(self.info.read_text())["subscription_id"])

    def approve(self, resource_group: str, account: str, description: str) -> str:
        """`plmigrate sandbox approve`, the owner's approval of every pending connection on the account."""
        target = (
            f"/subscriptions/{self.subscription()}/resourceGroups/{resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{account}"
        )
        return self.run(
            str(BIN / "plmigrate"), "sandbox", "approve", "--info", str(self.info), "--description", description, target
        )

    def register_appliance(self, vault_id: str, appliance: str) -> str:
        """`plmigrate sandbox register-appliance`: what a person does on the appliance (its setup)."""
        return self.run(
            str(BIN / "plmigrate"),
            "sandbox",
            "register-appliance",
            "--info",
            str(self.info),
            "--vault",
            vault_id,
            appliance,
        )


if __name__ == "__main__":
    import tempfile

    def stop_on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_term)
    with tempfile.TemporaryDirectory(prefix="plmigrate-ui-") as tmp, Stack(Path(tmp)) as stack:
        print(f"UI: {stack.ui}  sandbox info: {stack.info}  logs: {tmp}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
