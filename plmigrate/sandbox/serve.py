"""`plmigrate sandbox ...`: run the sandbox as a process, and talk to a running one.

`serve` starts the same `Sandbox` the tests start in-process, writes the info file clients read
(`plmigrate.azure.Target.sandbox(path)`), and runs until SIGINT or SIGTERM. `AdminClient` is the
small HTTPS client of the admin API used by `approve` and `calls`. The command line itself lives in
plmigrate/cli.py; this module raises `InvalidInput` for what the user got wrong (exit 2) and lets
anything else propagate (exit 1).
"""

from __future__ import annotations

import json
import logging
import signal
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from plmigrate.sandbox.scenario import Scenario
from plmigrate.sandbox.server import Sandbox, SandboxInfo

log = logging.getLogger("plmigrate.sandbox")


class InvalidInput(ValueError):
    """Something the user gave is wrong (a file, a field, an argument): exit code 2."""


class SandboxNotRunning(InvalidInput):
    """The info file names a sandbox that does not answer (stopped, killed, or another one now
    listens on its port): said in seconds, instead of a client's retries ending in a raw error."""

    def __init__(self, info_file: str | Path, url: str, why: str = "") -> None:
        detail = f" ({why})" if why else ""
        super().__init__(
            f"the sandbox at {url} (info file {info_file}) is not running{detail}; start it with "
            f"`plmigrate sandbox serve --info {info_file}`, or point at a running one"
        )


class AdminError(RuntimeError):
    """The admin API answered with an error (its ARM-style code and message)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def describe_validation_error(error: ValidationError) -> str:
    """Pydantic's errors on one line, each naming its field as a dotted path."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def load_scenario(spec: str | None) -> Scenario:
    """A scenario from a file path or a shipped name ("default", "empty"); `InvalidInput` if bad."""
    name = spec or "default"
    if name not in {"default", "empty"} and not Path(name).is_file():
        raise InvalidInput(f"scenario file {name} does not exist (or give 'default' or 'empty')")
    try:
        return Scenario.load(name)
    except ValidationError as exc:
        raise InvalidInput(f"invalid scenario {name}: {describe_validation_error(exc)}") from None
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise InvalidInput(f"scenario {name} is not valid YAML: {detail}") from None


def _check_state_file(state: str | None) -> Path | None:
    if state is None:
        return None
    path = Path(state)
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"state file {state} is unreadable: {exc}") from None
        if not isinstance(data, dict) or "resources" not in data:
            raise InvalidInput(f"state file {state} is not a sandbox state (no 'resources')")
    elif not path.parent.is_dir():
        raise InvalidInput(f"state file {state}: directory {path.parent} does not exist")
    return path


def serve(
    *,
    scenario: str | None,
    info_file: str,
    host: str = "127.0.0.1",
    port: int = 0,
    dns_port: int = 0,
    state: str | None = None,
    stop: threading.Event | None = None,
    on_started: Callable[[SandboxInfo], None] | None = None,
) -> int:
    """Run a sandbox until SIGINT/SIGTERM (or `stop` is set); return the exit code.

    The info file is written once the sandbox listens and removed when it stops, because the TLS
    material it names is made at start and discarded at stop. With `state`, the world is restored
    from the file at start (the scenario then only contributes behaviour: faults, latencies,
    throttling) and saved to it while running and at stop.
    """
    loaded = load_scenario(scenario)
    state_file = _check_state_file(state)
    stop = stop or threading.Event()
    handled = (signal.SIGINT, signal.SIGTERM)
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in handled:
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    sandbox = Sandbox(loaded, host=host, port=port, dns_port=dns_port, state_file=state_file)
    info_path = Path(info_file)
    written = False
    try:
        info = sandbox.start()
        info.write(info_path)
        written = True
        # One line, never the token: the info file (mode 600) is where the token lives.
        log.info(
            "sandbox listening: ARM %s, admin %s, DNS %s:%d (udp+tcp), subscription %s; info in %s%s",
            info.arm_url,
            info.admin_url,
            info.dns_host,
            info.dns_port,
            info.subscription_id,
            info_path,
            f", state in {state_file}" if state_file else "",
        )
        if on_started is not None:
            on_started(info)
        # A short timeout keeps the main thread responsive to signals on every platform.
        while not stop.wait(0.2):
            pass
    finally:
        sandbox.stop()
        if written:  # never remove an info file another sandbox wrote
            info_path.unlink(missing_ok=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    log.info("sandbox stopped%s", f"; state saved to {state_file}" if state_file else "")
    return 0


class AdminClient:
    """The admin API of a running sandbox, reached through its info file."""

    def __init__(self, info: SandboxInfo, info_file: str | Path = "the info file") -> None:
        self.info = info
        self.info_file = info_file
        self.context = ssl.create_default_context(cafile=info.ca_file)

    @classmethod
    def from_file(cls, path: str | Path) -> AdminClient:
        """The admin client of the sandbox that wrote `path`; InvalidInput (SandboxNotRunning when
        its TLS material is gone, as it is once that sandbox stopped) for anything else."""
        try:
            info = SandboxInfo.read(path)
        except FileNotFoundError:
            raise InvalidInput(
                f"info file {path} does not exist: is the sandbox running? Start one with "
                f"`plmigrate sandbox serve --info {path}`"
            ) from None
        except IsADirectoryError:
            raise InvalidInput(
                f"info file {path} is a directory: give the file `plmigrate sandbox serve --info FILE` wrote "
                f"(e.g. {Path(path) / 'info.json'})"
            ) from None
        except OSError as exc:
            raise InvalidInput(f"info file {path} cannot be read ({exc.strerror or exc})") from None
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"info file {path} is not a sandbox info file: {exc}") from None
        if not Path(info.ca_file).is_file():
            raise SandboxNotRunning(path, info.arm_url, f"its TLS CA file {info.ca_file} is gone")
        return cls(info, path)

    def call(self, method: str, path: str, body: Any = None, timeout: float = 30, *, base: str | None = None) -> Any:
        """A request to the admin API (or, with `base`, to another part of the sandbox, e.g. ARM)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request((base or self.info.admin_url) + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.info.token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                error = json.loads(raw)["error"]
                raise AdminError(exc.code, error["code"], error["message"]) from None
            except (ValueError, KeyError, TypeError):
                raise AdminError(exc.code, "HttpError", raw.decode(errors="replace")[:200]) from None
        except (urllib.error.URLError, OSError) as exc:
            # Refused, timed out, or a TLS failure (another sandbox, with another CA, on that port).
            why = getattr(exc, "reason", exc)
            raise SandboxNotRunning(self.info_file, self.info.arm_url, str(why)) from None
        return json.loads(raw) if raw else None

    def ping(self, timeout: float = 3) -> None:
        """Raise SandboxNotRunning unless the sandbox answers within `timeout` seconds."""
        self.call("GET", "/info", timeout=timeout)

    def decide(
        self,
        target_id: str,
        status: str,
        *,
        connection_name: str | None = None,
        description: str | None = None,
    ) -> list[dict[str, Any]]:
        """Approve or reject connections on a target as its owner; returns the connections decided."""
        body: dict[str, Any] = {"target_id": target_id, "status": status}
        if connection_name:
            body["connection_name"] = connection_name
        if description:
            body["description"] = description
        return list(self.call("POST", "/connections", body)["decided"])

    def resource(self, resource_id: str) -> dict[str, Any] | None:
        """The resource as ARM shows it to us (None when there is none by that ID): what the owner's
        commands check a target ID against before saying there is nothing to decide."""
        try:
            found = self.call("GET", f"{resource_id}?api-version=2024-01-01", base=self.info.arm_url)
        except AdminError as exc:
            if exc.status in (400, 404):
                return None
            raise
        return dict(found) if isinstance(found, dict) else None

    def calls(self) -> dict[str, Any]:
        return dict(self.call("GET", "/calls"))

    def register_appliance(self, vault_id: str, appliance: str) -> dict[str, Any]:
        """Register a replication appliance with a vault, as a person does on the appliance; returns
        the fabric, container, policy and process server it made (AdminError if it cannot)."""
        return dict(self.call("POST", f"/siterecovery/appliances/{appliance}/register", {"vault_id": vault_id}))

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move Site Recovery's clock forward (jobs finish, replication progresses)."""
        return dict(self.call("POST", "/siterecovery/advance", {"seconds": seconds}))
