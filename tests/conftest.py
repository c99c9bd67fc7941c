"""Shared fixtures: the sandbox runs in-process on port 0 with real TLS; clients are the real SDK
clients built by plmigrate's one factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from plmigrate.azure import AzureClients, Target, clients
from plmigrate.sandbox import Sandbox, Scenario
from plmigrate.sandbox.serve import AdminClient

UI_TESTS = Path(__file__).parent / "ui"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/ui/ drives a real browser (`make test-ui`): collected only when named on the command
    line, so `make test` (a bare `pytest`) leaves it out."""
    if collection_path != UI_TESTS:
        return None
    named = [config.invocation_params.dir / arg.split("::")[0] for arg in config.args]
    return not any(path.resolve().is_relative_to(UI_TESTS) for path in named)


class Admin(AdminClient):
    """The sandbox's admin API for a test: what a person or Azure itself does."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox.info)


@pytest.fixture(scope="session")
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Start extra sandboxes (each on its own ports) with a given scenario; stopped at the end."""
    started: list[Sandbox] = []

    def start(scenario: Scenario | str | dict[str, Any] = "empty", **kwargs: Any) -> Sandbox:
        if isinstance(scenario, dict):
            scenario = Scenario.model_validate(scenario)
        elif isinstance(scenario, str):
            scenario = Scenario.load(scenario)
        sandbox = Sandbox(scenario, **kwargs)
        sandbox.start()
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """A fresh sandbox with the default scenario, for one test."""
    return make_sandbox("default")


@pytest.fixture
def azure(sandbox: Sandbox) -> AzureClients:
    return clients(Target.sandbox(sandbox.info))


@pytest.fixture
def admin(sandbox: Sandbox) -> Admin:
    return Admin(sandbox)
