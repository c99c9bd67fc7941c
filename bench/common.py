"""Helpers shared by the wave benchmark and its no-Prefect baseline: the inventory generator, the
benchmark scenario, one Prefect server for the whole benchmark, and the measurements (peak RSS,
warning capture).

Nothing here imports Prefect at module level: a benchmark phase sets PREFECT_API_URL before
Prefect reads its settings.
"""

from __future__ import annotations

import csv
import logging
import multiprocessing
import os
import re
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUSINESS_UNIT = ROOT / "deployments" / "finance.yaml"
SCENARIO = ROOT / "bench" / "scenario.yaml"
WAVE = "wave-01"

COLUMNS = [
    "server", "source_type", "appliance", "replication_account", "cache_account",
    "target_resource_group", "target_vnet", "target_subnet", "business_unit", "wave", "tags",
]  # fmt: skip

# The same mix as tests/pipeline/test_wave.py: (source type, replication account, pinned cache).
# Hyper-V on the Premium account needs the Standard cache account, so all three accounts are used.
MIX = [
    ("vmware", "stfinrepl01", ""),
    ("physical", "stfinrepl01", ""),
    ("aws", "stfinrepl01", ""),
    ("gcp", "stfinrepl01", ""),
    ("hyperv", "stfinrepl01", ""),
    ("hyperv", "stfinpremrepl01", "stfincache01"),
    ("vmware", "stfinpremrepl01", ""),
    ("hyperv", "stfinpremrepl01", ""),
]

# What Prefect says when it loses records or events (client services and the server's in-memory
# messaging and event persister); grepped in captured logs and the server's output.
DROPPED = re.compile(r"queue is full|queue full|dropping|dropped|backpressure", re.IGNORECASE)


def write_inventory(path: Path, count: int, wave: str = WAVE) -> Path:
    """A CSV wave inventory of `count` servers of mixed source types for the finance business unit."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(count):
            source, replication, cache = MIX[i % len(MIX)]
            writer.writerow(
                [f"srv-{i:05d}", source, "appliance-fin-01", replication, cache, "rg-finance-servers",
                 "vnet-hub-eastus", "snet-fin-app", "finance", wave, f"app=app{i % 7}"]
            )  # fmt: skip
    return path


def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _descendants(pid: int) -> list[int]:
    found = [pid]
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
            for child in children:
                found += _descendants(int(child))
    except OSError:
        pass
    return found


def tree_peak_rss_bytes(pid: int) -> int:
    """Sum of the peak RSS (VmHWM) of a process and its live descendants; 0 where /proc is unreadable."""
    total = 0
    for p in _descendants(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


class DroppedRecords(logging.Handler):
    """Keeps every captured log line that says Prefect dropped something."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to judge
            return
        if DROPPED.search(message):
            self.lines.append(f"{record.name}: {message}")

    def attach(self) -> DroppedRecords:
        # Prefect's own loggers do not propagate to the root logger: listen on both.
        for name in ("", "prefect"):
            logging.getLogger(name).addHandler(self)
        return self


def grep_dropped(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text(errors="replace").splitlines() if DROPPED.search(line)]


def redirect_output(path: Path) -> None:
    """Send this process's stdout and stderr (Prefect's console log lines) to a file."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrefectServer:
    """One `prefect server start` subprocess on a free port, with its own PREFECT_HOME and SQLite
    database in `home`, as a user runs it locally. Its output goes to `home/server.log`."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.log = home / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.start_seconds = 0.0

    def env(self) -> dict[str, str]:
        return {
            "PREFECT_HOME": str(self.home),
            "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{self.home / 'prefect.db'}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(self.home / "results"),
        }

    def start(self, timeout: float = 180.0, attempts: int = 3) -> PrefectServer:
        """Start it and wait until healthy. A free port can be taken by another process before
        the server binds it (a shared machine): then try again on another port."""
        for attempt in range(attempts):
            try:
                return self._start(timeout)
            except RuntimeError:
                if attempt == attempts - 1 or "address already in use" not in self.log.read_text(errors="replace"):
                    raise
                self.port = free_port()
                self.api_url = f"http://127.0.0.1:{self.port}/api"
        raise AssertionError("unreachable")

    def _start(self, timeout: float) -> PrefectServer:
        started = time.monotonic()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | self.env()
        command = [
            str(Path(sys.executable).with_name("prefect")), "server", "start", "--host", "127.0.0.1",
            "--port", str(self.port), "--no-ui", "--analytics-off", "--no-scheduler", "--no-late-runs",
        ]  # fmt: skip
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.home)
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"prefect server exited with {self.process.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(self.api_url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        self.start_seconds = time.monotonic() - started
                        return self
            except OSError:
                time.sleep(0.25)
        raise TimeoutError(f"prefect server not healthy after {timeout:.0f} s; see {self.log}")

    def peak_rss_bytes(self) -> int:
        return tree_peak_rss_bytes(self.process.pid) if self.process else 0

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def in_fresh_process(fn: Any, *args: Any) -> Any:
    """`fn(*args)` in a spawned process of its own: every measured run starts from a fresh
    interpreter (no warm caches, threads or clients of an earlier run)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def warm_up(server: PrefectServer, work: Path) -> float:
    """One untimed landing-zone flow run (zero latency, its own sandbox) against the freshly
    started server, in a fresh process; returns its seconds. The first flow run a new server
    answers was the slowest of every series (start-up 0.64-0.75 s against 0.22-0.31 s, the body
    0.1 s longer: docs/performance.md), a cost a long-running server pays once; like the
    server's start-up, it is excluded from every timing."""
    started = time.monotonic()
    in_fresh_process(_warm_up_run, server.api_url, server.env(), str(work))
    return time.monotonic() - started


def _warm_up_run(api_url: str, server_env: dict[str, str], work: str) -> None:
    os.environ.update(server_env)
    os.environ["PREFECT_API_URL"] = api_url
    redirect_output(Path(work) / "warm-up.log")
    from flows.private_link import private_link_landing_zone

    sandbox = start_sandbox("zero-latency")
    try:
        info = Path(work) / f"sandbox-warm-up-{os.getpid()}.json"
        sandbox.info.write(info)
        state = private_link_landing_zone(str(BUSINESS_UNIT), f"sandbox:{info}", return_state=True)
        if not state.is_completed():
            raise RuntimeError(f"the warm-up run ended {state.name}; see {work}/warm-up.log")
    finally:
        sandbox.stop()


SCENARIOS = ("bench", "zero-latency")

# What a run imports lazily on its first call (found by diffing sys.modules around one flow run):
# Prefect's flow and task engines and the encoder it takes from fastapi for flow parameters, the
# SDK's HTTP transport, dnspython. Every phase imports them before its timer, like its other
# imports, so neither side's timing includes an import.
LAZY_IMPORTS = (
    "prefect.flow_engine",
    "prefect.task_engine",
    "prefect.utilities.visualization",
    "fastapi.encoders",
    "azure.core.pipeline.transport._requests_basic",
    "dns.resolver",
)


def import_lazy_modules() -> None:
    import importlib

    for name in LAZY_IMPORTS:
        importlib.import_module(name)


def start_sandbox(scenario: str = "bench") -> Any:
    """A fresh in-process sandbox with the benchmark scenario; "zero-latency" is the same world
    with every latency removed, where only orchestration costs time."""
    from plmigrate.sandbox import Sandbox, Scenario

    loaded = Scenario.load(SCENARIO)
    if scenario == "zero-latency":
        loaded = loaded.model_copy(update={"latencies": []})
    elif scenario != "bench":
        raise ValueError(f"unknown scenario {scenario!r}: one of {', '.join(SCENARIOS)}")
    sandbox = Sandbox(loaded)
    sandbox.start()
    return sandbox


def split_times(sandbox: Any, started: float, ended: float) -> dict[str, float]:
    """A timed call (time.monotonic() at its start and return) split by the sandbox's ARM call
    window: start-up before the first ARM request arrived, the window from it to the last answer,
    and the tail after that answer."""
    window = sandbox.world.call_report()["window"]
    if window is None:  # no ARM call at all
        return {"wall_seconds": ended - started, "startup_seconds": ended - started, "arm_seconds": 0.0,
                "tail_seconds": 0.0}  # fmt: skip
    first, last = window
    return {
        "wall_seconds": ended - started,
        "startup_seconds": first - started,
        "arm_seconds": last - first,
        "tail_seconds": ended - last,
    }


def after_final_state(state: Any, returned_at: float) -> float:
    """Seconds from a flow run's terminal state (its client-side timestamp, taken when the engine
    built it from the flow's return value) to the flow call's return (`returned_at`, time.time()):
    the engine's exit, i.e. the final state's API call and the sync engine's heartbeat thread
    join (it sleeps in 1 s steps: 0-1 s). Part of the tail; the rest of the tail is the flow's own
    work after the last ARM answer (its last task runs, artifacts, the return-value walk)."""
    return returned_at - state.timestamp.timestamp()


def run_body_seconds(state: Any) -> float:
    """Seconds from a flow run's Running state (the server's start_time) to its terminal state:
    the run's body, without the engine's start-up before it and exit after it. The sync engine's
    heartbeat thread starts with the body and is joined at its next 1 s step, so a call's wall is
    about its start-up plus this figure rounded up to the next second (docs/performance.md)."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    return state.timestamp.timestamp() - run.start_time.timestamp()


def load_average() -> float:
    """The machine's 1-minute load average (the benchmark shares its cores with whatever runs)."""
    return os.getloadavg()[0]


def median_min_max(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    n = len(ordered)
    middle = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    return middle, ordered[0], ordered[-1]


def spread(values: list[float], unit: str = " s", digits: int = 2) -> str:
    """The median [min..max] of the runs' values."""
    if not values:
        return "—"
    mid, lo, hi = median_min_max(values)
    return f"{mid:.{digits}f}{unit} [{lo:.{digits}f}..{hi:.{digits}f}]"


def mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"
