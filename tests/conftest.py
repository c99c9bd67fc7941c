"""Shared fixtures: the sandbox runs in-process on port 0 with real TLS; clients are the real SDK
clients built by plmigrate's one factory."""

from __future__ import annotations

import json
import ssl
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from plmigrate.azure import AzureClients, Target, clients
from plmigrate.sandbox import Sandbox, Scenario


class Admin:
    """A small client for the sandbox's admin API (what a person or Azure itself does)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.url = sandbox.info.admin_url
        self.token = sandbox.info.token
        self.context = ssl.create_default_context(cafile=sandbox.info.ca_file)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, context=self.context) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def calls(self) -> dict[str, Any]:
        return self.call("GET", "/calls")


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
