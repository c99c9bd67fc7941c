"""The on-prem DNS server of the scenario (being built: see issue 2)."""

from __future__ import annotations

from collections.abc import Callable

from plmigrate.sandbox.world import World


class DnsServer:
    def __init__(self, world: Callable[[], World], host: str, port: int) -> None:
        self.world, self.host, self.port = world, host, port

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass
