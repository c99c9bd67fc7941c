"""Fixtures for tests that run real Prefect flows against the sandbox.

One Prefect test server for the whole session (starting one costs ~17 s); results go to a
temporary directory, as the harness does not isolate result storage.
"""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from plmigrate.sandbox import Sandbox, Scenario

ROOT = Path(__file__).resolve().parents[2]
FINANCE = ROOT / "deployments" / "finance.yaml"


@pytest.fixture(scope="session", autouse=True)
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with tempfile.TemporaryDirectory(prefix="plmigrate-results-") as results:
        os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] = results
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        with _started_harness(prefect_test_harness):
            yield


@contextlib.contextmanager
def _started_harness(harness: Callable[..., Any], attempts: int = 3) -> Iterator[None]:
    """Prefect's test harness, started again on a fresh port if its health check's connection is
    reset: Prefect's start-up loop only expects a refused connection, and a reset was seen once on
    a loaded machine with two test processes starting their servers at once."""
    import httpx

    for attempt in range(attempts):
        started = harness(server_startup_timeout=120)
        try:
            started.__enter__()
        except httpx.TransportError:
            if attempt == attempts - 1:
                raise
            continue
        try:
            yield
        finally:
            started.__exit__(None, None, None)
        return


def default_scenario(**changes: Any) -> dict[str, Any]:
    """The shipped default scenario as a dict, with top-level keys replaced."""
    data = Scenario.load("default").model_dump()
    data.update(copy.deepcopy(changes))
    return data


def all_approvable(data: dict[str, Any]) -> dict[str, Any]:
    for account in data["storage_accounts"]:
        account["principal_may_approve"] = True
    return data


@pytest.fixture
def world(make_sandbox: Callable[..., Sandbox]) -> Callable[..., Sandbox]:
    """Start a sandbox from the default scenario (as a dict, changes applied) for one test."""

    def start(data: dict[str, Any] | None = None) -> Sandbox:
        return make_sandbox(data or default_scenario())

    return start


@pytest.fixture
def business_unit(tmp_path: Path) -> Callable[..., Path]:
    """Write deployments/finance.yaml, with changes, where a test can point the flow at it.
    Waits are shortened for tests: DNS and role propagation in the sandbox take seconds."""

    def write(**changes: Any) -> Path:
        data = yaml.safe_load(FINANCE.read_text())
        data["timeouts"] = {"dns_seconds": 3, "dns_retry_seconds": 0.5, "role_seconds": 20, "role_retry_seconds": 0.5}
        data["approval"] = {"mode": "wait_for_owner", "timeout_seconds": 60, "poll_seconds": 1, "pause_in_ui": True}
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        path = tmp_path / "bu.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    return write


def info_file(sandbox: Sandbox, tmp_path: Path) -> str:
    path = tmp_path / "sandbox-info.json"
    sandbox.info.write(path)
    return f"sandbox:{path}"
