"""The sandbox server: ARM over HTTPS and the admin API on one port, plus the DNS server.

`Sandbox` is a context manager that starts both in threads (tests use it on port 0);
`plmigrate sandbox serve` runs the same thing until SIGINT/SIGTERM and writes an info file.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from plmigrate.sandbox import admin, apiversions, lro, providers
from plmigrate.sandbox.arm import (
    ArmError,
    ArmRequest,
    ArmResponse,
    Router,
    parse_resource_id,
    resource_type_of,
)
from plmigrate.sandbox.behaviour import Behaviour
from plmigrate.sandbox.dns import DnsServer
from plmigrate.sandbox.scenario import Scenario
from plmigrate.sandbox.tls import make_certificates
from plmigrate.sandbox.world import World

ADMIN_PREFIX = "/_sandbox"


@dataclass(frozen=True)
class SandboxInfo:
    """What a client needs to reach a running sandbox (the `--info` file's content)."""

    arm_url: str
    admin_url: str
    ca_file: str
    dns_host: str
    dns_port: int
    subscription_id: str
    tenant_id: str
    token: str

    def write(self, path: str | Path) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.chmod(0o600)
        tmp.replace(target)

    @classmethod
    def read(cls, path: str | Path) -> SandboxInfo:
        return cls(**json.loads(Path(path).read_text()))


class SandboxApp:
    """Routing, authentication, throttling, faults and bookkeeping around the provider handlers."""

    def __init__(self, scenario: Scenario, token: str, state_file: Path | None = None) -> None:
        self.scenario = scenario
        self.token = token
        self.state_file = state_file
        self.router = Router()
        lro.register(self.router)
        for provider in providers.ALL:
            provider.register(self.router)
        self.admin_router = Router()
        admin.register(self.admin_router, self)
        self.api_versions = apiversions.sandbox_table()
        self.world: World
        self.behaviour = Behaviour(scenario.faults, scenario.latencies, scenario.throttling)
        self.dirty = False
        self.reset(restore=True)

    def reset(self, *, restore: bool = False) -> None:
        """Re-seed the world from the scenario (or restore it from the state file)."""
        world = World(self.scenario)
        if restore and self.state_file and self.state_file.exists():
            world.restore(json.loads(self.state_file.read_text()))
        else:
            for forwarder in self.scenario.dns_forwarders:
                world.dns_forwarders[forwarder.zone.lower().strip(".")] = forwarder.vnet_id
            for provider in providers.ALL:
                provider.seed(world)
        self.world = world
        self.behaviour = Behaviour(self.scenario.faults, self.scenario.latencies, self.scenario.throttling)
        self.dirty = True

    def save(self) -> None:
        if self.state_file and self.dirty:
            self.dirty = False
            self.world.save(self.state_file)

    # -- one request -------------------------------------------------------------------------
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes, base_url: str
    ) -> ArmResponse:
        arrived = time.monotonic()
        split = urlsplit(raw_path)
        path = split.path
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        extra = {
            "x-ms-request-id": str(uuid.uuid4()),
            "x-ms-correlation-request-id": headers.get("x-ms-correlation-request-id", str(uuid.uuid4())),
        }
        is_admin = path.lower().startswith(ADMIN_PREFIX)
        resource_type = "sandbox/admin" if is_admin else resource_type_of(path)
        if not is_admin:
            self.world.arrive()
        try:
            self._authenticate(headers)
            body = self._parse_body(raw_body)
            if not is_admin:
                # Before routing and throttling, as ARM's front door checks it: a refusal writes nothing.
                query["api-version"] = self._api_version(method, path, split.query, body)
            router = self.admin_router if is_admin else self.router
            found = router.match(method, path)
            if found is None:
                raise ArmError(
                    400 if "/providers/" in path else 404,
                    "InvalidResourceType" if "/providers/" in path else "NotFound",
                    f"The resource type for '{path}' is not served by the sandbox.",
                )
            route, params = found
            req = ArmRequest(
                method.upper(), path, query, headers, body, self.world, base_url, self.scenario.principal_id, params
            )
            if not is_admin:
                self._gate(req, route.lro, resource_type, extra)
            response = route.handler(req)
        except ArmError as error:
            response = ArmResponse(error.status, error.envelope(), dict(error.headers))
        response.headers = {**extra, **response.headers}
        if method.upper() not in {"GET", "HEAD"}:
            self.world.version += 1
        if not is_admin:
            version = query.get("api-version", "")
            self.world.count_calls(method.upper(), resource_type, response.status, arrived, version)
            if method.upper() != "GET" and response.status < 400:
                self.dirty = True
        return response

    def _api_version(self, method: str, path: str, raw_query: str, body: Any) -> str:
        def tracked_location() -> str | None:
            # ARM routes by the closest tracked resource on the path: the resource, a parent, or
            # the resource group (only for a refusal that names the location).
            segments = [s for s in path.split("/") if s]
            while len(segments) >= 4:
                found = self.world.get("/" + "/".join(segments))
                if found is not None and found.get("location"):
                    return str(found["location"])
                segments = segments[:-1]
            return None

        return self.api_versions.check(method, path, raw_query, body, tracked_location)

    def _authenticate(self, headers: dict[str, str]) -> None:
        auth = headers.get("authorization", "")
        challenge = {
            "WWW-Authenticate": (
                f'Bearer authorization_uri="https://login.microsoftonline.com/{self.scenario.tenant_id}", '
                'error="invalid_token", error_description="The authentication failed because of missing '
                "'Authorization' header.\""
            )
        }
        if not auth.lower().startswith("bearer "):
            raise ArmError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                headers=challenge,
            )
        if auth[7:].strip() != self.token:
            raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.", headers=challenge)

    @staticmethod
    def _parse_body(raw_body: bytes) -> Any:
        if not raw_body:
            return None
        try:
            return json.loads(raw_body)
        except ValueError as exc:
            raise ArmError(
                400, "InvalidRequestContent", f"The request content was invalid and could not be deserialized: {exc}."
            ) from exc

    def _gate(self, req: ArmRequest, is_lro: bool, resource_type: str, extra: dict[str, str]) -> None:
        """Throttling, then injected faults, then latency: in the order Azure would apply them."""
        subscription = parse_resource_id(req.path).get("subscription", self.scenario.subscription_id)
        allowed, headers = self.behaviour.throttle.charge(subscription, req.principal_id, req.method)
        extra.update(headers)
        if not allowed:
            raise ArmError(
                429,
                "SubscriptionRequestsThrottled",
                f"Number of requests for subscription '{subscription}' and operation type exceeded the limit. "
                f"Please try again after {headers['Retry-After']} seconds.",
                headers=headers,
            )
        fault = self.behaviour.fault_for(req.method, resource_type, lro=is_lro)
        if fault is not None:
            if fault.lro_failure:
                req.lro_fault = f"{fault.code}|{fault.message}"
            else:
                fault_headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                raise ArmError(fault.status, fault.code, fault.message, headers=fault_headers)
        latency = self.behaviour.latency_for(req.method, resource_type)
        if is_lro:
            req.latency = latency
        elif latency > 0:
            time.sleep(latency)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpsServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        response = self.server.app.handle(self.command, self.path, headers, raw_body, self.server.base_url)
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_PATCH = do_POST = do_DELETE = do_HEAD = _serve


class _HttpsServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, app: SandboxApp, host: str, port: int, context: ssl.SSLContext) -> None:
        self.app = app
        self.context = context
        super().__init__((host, port), _Handler)
        self.base_url = f"https://{host}:{self.server_address[1]}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake happens here, in the connection's own thread, so one slow client
        # cannot stall the accept loop.
        # No Nagle: a response goes out as its headers, then its body; with Nagle the body waited
        # for the client's (delayed, ~40 ms) ACK of the headers, which added ~40 ms to every call
        # with a body: a latency ARM does not have (docs/performance.md).
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        self.app.world.count_connection()
        try:
            super().finish_request(tls, client_address)
        finally:
            with contextlib.suppress(OSError):
                tls.close()


class Sandbox:
    """ARM + admin API over HTTPS and the on-prem DNS server, in this process.

    >>> with Sandbox(Scenario.load("default")) as sandbox:
    ...     info = sandbox.info
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        dns_port: int = 0,
        state_file: str | Path | None = None,
        workdir: str | Path | None = None,
        token: str | None = None,
    ) -> None:
        self.scenario = scenario or Scenario.load("default")
        self.host, self.port, self.dns_port = host, port, dns_port
        self.token = token or "sandbox-" + uuid.uuid4().hex
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="plmigrate-sandbox-")
        self.workdir = Path(workdir or self._tmp.name)  # type: ignore[union-attr]
        self.app = SandboxApp(self.scenario, self.token, Path(state_file) if state_file else None)
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.https: _HttpsServer | None = None
        self.dns: DnsServer | None = None
        self.info: SandboxInfo

    @property
    def world(self) -> World:
        return self.app.world

    def start(self) -> SandboxInfo:
        ca_file, cert_file, key_file = make_certificates(self.workdir / "tls")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.https = _HttpsServer(self.app, self.host, self.port, context)
        self.dns = DnsServer(lambda: self.app.world, self.host, self.dns_port)
        self.dns.start()
        # A short poll interval: stopping waits for one (tests start and stop hundreds of sandboxes).
        serve = threading.Thread(
            target=self.https.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox-arm", daemon=True
        )
        serve.start()
        self._threads.append(serve)
        if self.app.state_file:
            saver = threading.Thread(target=self._autosave, name="sandbox-state", daemon=True)
            saver.start()
            self._threads.append(saver)
        self.info = SandboxInfo(
            arm_url=self.https.base_url,
            admin_url=self.https.base_url + ADMIN_PREFIX,
            ca_file=str(ca_file),
            dns_host=self.host,
            dns_port=self.dns.port,
            subscription_id=self.scenario.subscription_id,
            tenant_id=self.scenario.tenant_id,
            token=self.token,
        )
        return self.info

    def _autosave(self) -> None:
        while not self._stop.wait(0.5):
            self.app.save()

    def stop(self) -> None:
        self._stop.set()
        if self.https is not None:
            self.https.shutdown()
            self.https.server_close()
        if self.dns is not None:
            self.dns.stop()
        self.app.save()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
