"""Shared fixtures: the sandbox runs in-process on port 0 with real TLS; clients are the real SDK
clients built by plmigrate's one factory."""

from __future__ import annotations

import threading
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


class Sandboxes:
    """Every sandbox the session starts. A test's own sandboxes are stopped when the test ends, in
    the background (stopping one waits out its servers' poll loops, ~0.1 s, and a running one
    wakes ~40 times a second: hundreds left running would cost CPU for the whole session); those
    of module- and session-scoped fixtures when the session ends, all at once."""

    def __init__(self) -> None:
        self.running: list[Sandbox] = []
        self.stoppers: list[threading.Thread] = []

    def start(self, scenario: Scenario | str | dict[str, Any] = "empty", **kwargs: Any) -> Sandbox:
        if isinstance(scenario, dict):
            scenario = Scenario.model_validate(scenario)
        elif isinstance(scenario, str):
            scenario = Scenario.load(scenario)
        sandbox = Sandbox(scenario, **kwargs)
        sandbox.start()
        self.running.append(sandbox)
        return sandbox

    def stop_from(self, mark: int) -> None:
        """Stop the sandboxes started since `mark` (a length of `running`), without waiting."""
        done, self.running = self.running[mark:], self.running[:mark]
        for sandbox in done:
            stopper = threading.Thread(target=sandbox.stop, name="sandbox-stop", daemon=True)
            stopper.start()
            self.stoppers.append(stopper)
        self.stoppers = [t for t in self.stoppers if t.is_alive()]

    def stop_all(self) -> None:
        self.stop_from(0)
        for stopper in self.stoppers:
            stopper.join(timeout=30)


@pytest.fixture(scope="session")
def sandboxes() -> Iterator[Sandboxes]:
    started = Sandboxes()
    yield started
    started.stop_all()


@pytest.fixture(scope="session")
def make_sandbox(sandboxes: Sandboxes) -> Callable[..., Sandbox]:
    """Start extra sandboxes (each on its own ports) with a given scenario; a test's own are
    stopped when it ends, a module- or session-scoped fixture's when the session ends."""
    return sandboxes.start


@pytest.fixture(autouse=True)
def _stop_the_tests_sandboxes(sandboxes: Sandboxes) -> Iterator[None]:
    # Autouse and function-scoped: set up after every broader fixture of the test and before its
    # other function-scoped ones, so the sandboxes started after this mark are the test's own.
    mark = len(sandboxes.running)
    yield
    sandboxes.stop_from(mark)


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
