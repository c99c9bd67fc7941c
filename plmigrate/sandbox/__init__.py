"""The sandbox: an emulator of the Azure Resource Manager REST API over HTTPS plus an on-prem DNS
server, faithful enough that the real SDK clients run against it unchanged (docs/sandbox.md)."""

from plmigrate.sandbox.scenario import Scenario
from plmigrate.sandbox.server import Sandbox, SandboxInfo

__all__ = ["Sandbox", "SandboxInfo", "Scenario"]
