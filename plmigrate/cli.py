"""The `plmigrate` command: parses arguments and dispatches; the work lives in the library.

One function per subcommand (`cmd_<group>_<name>(args) -> int`), wired in `build_parser()`.
Exit codes: 0 ok, 2 invalid input (argparse's own errors included), 1 failure. Errors are one
line on stderr; `--debug` shows the traceback instead.

`prepare` and `wave` check the files and the target before Prefect starts (bad input costs no
Prefect server and exits 2 at once), and keep stderr to what a person must read: warnings, waits
and errors; `-v` adds the runs' logs, `--debug` everything including HTTP requests.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

from plmigrate.azure import DEFAULT_SANDBOX_INFO
from plmigrate.errors import InputError, PlmigrateError
from plmigrate.sandbox.serve import AdminClient, AdminError, InvalidInput

if TYPE_CHECKING:
    from plmigrate.progress import Progress

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2
T = TypeVar("T")


# -- plmigrate sandbox ... ---------------------------------------------------------------------
def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from plmigrate.sandbox.serve import serve

    return serve(
        scenario=args.scenario,
        info_file=args.info,
        host=args.host,
        port=args.port,
        dns_port=args.dns_port,
        state=args.state,
    )


def cmd_sandbox_approve(args: argparse.Namespace) -> int:
    status = "Rejected" if args.reject else "Approved"
    admin = AdminClient.from_file(args.info)
    target = admin.resource(args.target_id)
    if target is None:
        print(
            f"plmigrate: the sandbox has no resource {args.target_id} — give the storage account's (or vault's) "
            "full resource ID, as the run's log or approval artifact prints it",
            file=sys.stderr,
        )
        return EXIT_INVALID
    decided = admin.decide(args.target_id, status, connection_name=args.connection, description=args.description)
    if not decided:
        existing = (target.get("properties") or {}).get("privateEndpointConnections") or []
        states = ", ".join(f"{c.get('name')}: {_connection_status(c)}" for c in existing)
        print(
            f"plmigrate: no pending private endpoint connection on {args.target_id} "
            f"({'its connections: ' + states if states else 'it has no private endpoint connections yet'})",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    for connection in decided:
        state = connection["properties"]["privateLinkServiceConnectionState"]["status"]
        print(f"{state}: {connection['id']}")
    return EXIT_OK


def cmd_sandbox_register_appliance(args: argparse.Namespace) -> int:
    admin = AdminClient.from_file(args.info)
    try:
        made = admin.register_appliance(args.vault, args.appliance)
    except AdminError as exc:
        if exc.status == 404:
            raise InvalidInput(exc.message) from None
        # The appliance's setup failed (its DNS does not resolve the vault's names): not an input error.
        print(f"plmigrate: {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    print(
        f"registered {made['appliance']}: fabric {made['fabric']}, container {made['container']}, "
        f"process server {made['process_server_id']} ({made['health']})"
    )
    return EXIT_OK


def _connection_status(connection: dict) -> str:
    props = connection.get("properties") or {}
    return str((props.get("privateLinkServiceConnectionState") or {}).get("status", "unknown"))


def cmd_sandbox_calls(args: argparse.Namespace) -> int:
    print(json.dumps(AdminClient.from_file(args.info).calls(), indent=2))
    return EXIT_OK


# -- plmigrate prepare / wave ------------------------------------------------------------------
def _target(args: argparse.Namespace) -> str:
    return "azure" if args.azure else f"sandbox:{args.sandbox}"


def preflight(
    business_unit_file: str, target_spec: str, inventory_file: str | None = None, wave: str | None = None
) -> None:
    """Everything that can be checked before Prefect starts, so bad input costs no Prefect server:
    the business-unit file, the inventory and wave, the target (a sandbox must answer) and each
    appliance's nameservers. Raises what the flow would raise, only sooner. The flow checks all
    of this again: a run started from the Prefect UI gets the same answers."""
    from plmigrate.azure import resolve_target
    from plmigrate.inventory import load_inventory
    from plmigrate.model import load_business_unit

    bu = load_business_unit(business_unit_file)
    if inventory_file is not None:
        notes: list[str] = []
        load_inventory(inventory_file, bu, wave, notes)
        for note in notes:
            print(f"plmigrate: note: {note}", file=sys.stderr)
    target = resolve_target(target_spec, bu.subscription_id)
    for appliance in bu.appliances:
        target.appliance_nameservers(appliance.endpoints())


def _prefect_server_note() -> None:
    """Say once where the run's records go, and what that means for approvals."""
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        print(
            "plmigrate: no PREFECT_API_URL: the run goes on a temporary Prefect server that stops with this command "
            "(no UI to open); an approval is awaited by re-reading Azure.",
            file=sys.stderr,
        )


def _run_flow(call: Callable[[], T]) -> T:
    """Run a flow; when the temporary Prefect server does not come up, say what to do instead."""
    _prefect_server_note()
    with server_start_explained():
        return call()


@contextmanager
def server_start_explained() -> Iterator[None]:
    """Prefect's "Timed out while attempting to connect to ephemeral Prefect API server" as what
    to do about it (ServerDidNotStart); anything else passes through."""
    try:
        yield
    except RuntimeError as exc:
        if "ephemeral Prefect API server" not in str(exc):
            raise
        from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

        raise ServerDidNotStart(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()) from None


class ServerDidNotStart(PlmigrateError):
    """The temporary Prefect server did not answer in time (a busy machine): what to do instead."""

    def __init__(self, timeout_seconds: float) -> None:
        super().__init__(
            f"the temporary Prefect server did not start within {timeout_seconds:g} s (a busy machine?). Either run "
            "a long-running server in another terminal, `.venv/bin/prefect server start`, and `export "
            "PREFECT_API_URL=http://127.0.0.1:4200/api` here; or give the temporary one longer, e.g. `export "
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=120`. Nothing was written."
        )


def cmd_prepare(args: argparse.Namespace) -> int:
    preflight(args.business_unit, _target(args))
    from flows.private_link import private_link_landing_zone
    from plmigrate.report import render_markdown

    report = _run_flow(lambda: private_link_landing_zone(args.business_unit, _target(args), args.dry_run))
    print(report.model_dump_json(indent=2) if args.json else render_markdown(report))
    return EXIT_OK


def _inventory_for(business_unit_file: str, given: str | None) -> str:
    """The wave inventory: --inventory, else waves/<business unit name>.csv (or .yaml) beside the BU file."""
    if given:
        return given
    from plmigrate.model import load_business_unit

    bu = load_business_unit(business_unit_file)
    folder = Path(business_unit_file).parent / "waves"
    for suffix in (".csv", ".yaml", ".yml"):
        candidate = folder / f"{bu.name}{suffix}"
        if candidate.exists():
            return str(candidate)
    raise InputError([f"--inventory: no inventory at {folder}/{bu.name}.csv (or .yaml) — pass --inventory FILE"])


class ProgressLine:
    """The wave's progress on stderr as counts per stage: on a terminal one line refreshed in place
    (a new line when the run moves from readiness to the lifecycle), otherwise a line per change,
    so a log or CI keeps each step. stdout is left to the report (with --json: the one object).

    On a terminal, log lines (warnings: a held server, a refused write) are written above the
    progress line, which is drawn again below them (`around_logs`)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = ""
        self.title = ""
        self.showing = False  # the progress line is the terminal's current, unfinished line
        self.lock = threading.Lock()

    def __call__(self, update: Progress) -> None:
        line = update.line()
        with self.lock:
            if line == self.last:
                return
            if not self.tty:
                self.stream.write(line + "\n")
            else:
                if self.showing and update.title != self.title:
                    self.stream.write("\n")  # keep the finished phase's last line
                self.stream.write(f"\r{line}\x1b[K")
                self.showing = True
            self.stream.flush()
            self.last, self.title = line, update.title

    def write_log(self, text: str) -> int:
        """A log handler's output on a terminal: clear the progress line, write, draw it again."""
        with self.lock:
            if self.showing:
                self.stream.write("\r\x1b[K")
                self.showing = False
            self.stream.write(text)
            if text.endswith("\n") and self.last:
                self.stream.write(f"{self.last}\x1b[K")
                self.showing = True
            self.stream.flush()
        return len(text)

    def around_logs(self) -> Callable[[], None]:
        """On a terminal, send every log handler that writes to this stream through `write_log`
        (Prefect's console handler included); returns what undoes it."""
        if not self.tty:
            return lambda: None
        proxy = _LogsAroundTheLine(self)
        loggers = [
            logging.getLogger(),
            *(v for v in logging.Logger.manager.loggerDict.values() if isinstance(v, logging.Logger)),
        ]
        swapped: list[tuple[logging.StreamHandler, IO[str]]] = []
        for logger in loggers:
            for handler in logger.handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is self.stream:
                    swapped.append((handler, handler.stream))
                    handler.setStream(proxy)  # type: ignore[arg-type]
                    console = getattr(handler, "console", None)  # Prefect's handler prints through rich
                    if console is not None:
                        console.file = proxy

        def restore() -> None:
            for handler, stream in swapped:
                handler.setStream(stream)
                if getattr(handler, "console", None) is not None:
                    handler.console.file = stream  # type: ignore[attr-defined]

        return restore

    def close(self) -> None:
        with self.lock:
            if self.showing:
                self.stream.write("\n")
                self.stream.flush()
                self.showing = False


class _LogsAroundTheLine(io.TextIOBase):
    """The stream log handlers write to while a progress line shows on the terminal."""

    def __init__(self, line: ProgressLine) -> None:
        self.line = line

    def write(self, text: str) -> int:
        return self.line.write_log(text)

    def flush(self) -> None:
        self.line.stream.flush()

    def isatty(self) -> bool:
        return True


def _refuse_lifecycle(args: argparse.Namespace) -> None:
    """Exit 2 before anything runs when the target stage cannot be asked for now: no migration
    section, a cutover without --change, or outside the cutover windows (the next one named)."""
    if args.to == "ready":
        return
    from datetime import UTC, datetime

    from flows.lifecycle import refusals
    from plmigrate.model import load_business_unit

    bu = load_business_unit(args.business_unit)
    problems = refusals(bu, args.to, args.change, interactive=False, now=datetime.now(UTC))
    if problems:
        raise InputError(problems, source=f"wave {args.wave} of {bu.name}")


def cmd_wave(args: argparse.Namespace) -> int:
    _refuse_lifecycle(args)
    inventory = _inventory_for(args.business_unit, args.inventory)
    preflight(args.business_unit, _target(args), inventory, args.wave)
    from flows.wave import WaveRun, migration_wave
    from plmigrate import progress
    from plmigrate.lifecycle import render_lifecycle_markdown, stage_rows
    from plmigrate.wave import render_wave_markdown, server_rows, summary_counts

    run = WaveRun(
        business_unit_file=args.business_unit,
        inventory_file=inventory,
        wave=args.wave,
        target=_target(args),
        dry_run=args.dry_run,
        to=args.to,
        change=args.change,
        approver=args.approver,
        servers=[n for n in (args.servers or "").split(",") if n.strip()] or None,
    )
    shown = ProgressLine()
    unsubscribe = progress.subscribe(shown)
    restore_logs = shown.around_logs()
    try:
        report = _run_flow(lambda: migration_wave(run))
    finally:
        unsubscribe()
        restore_logs()
        shown.close()
    if report.lifecycle is not None:
        lifecycle = report.lifecycle
        if args.json:
            print(json.dumps(lifecycle.as_json(), indent=2))
        else:
            print(render_wave_markdown(report))
            print(render_lifecycle_markdown(lifecycle, shown=0).split("| server |")[0].rstrip())
            print(_table(stage_rows(lifecycle.servers), ["server", "stage", "progress", "health", "reason"]))
        counts = ", ".join(f"{n} {stage}" for stage, n in lifecycle.counts.items() if n)
        print(f"{counts}; {lifecycle.writes} writes", file=sys.stderr)
        return EXIT_OK if lifecycle.all_reached() else EXIT_FAILURE
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print(render_wave_markdown(report))
        print(
            _table(server_rows(report.servers), ["server", "state", "source", "appliance", "cache account", "reason"])
        )
    print(summary_counts(report), file=sys.stderr)
    return EXIT_FAILURE if report.counts["blocked"] else EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from flows.lifecycle import wave_status
    from plmigrate.azure import resolve_target
    from plmigrate.inventory import load_inventory
    from plmigrate.lifecycle import stage_rows
    from plmigrate.model import load_business_unit

    bu = load_business_unit(args.business_unit)
    servers = load_inventory(_inventory_for(args.business_unit, args.inventory), bu, args.wave)
    target = resolve_target(_target(args), bu.subscription_id).paced(bu.limits)
    report = wave_status(target, bu, args.wave, servers)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print(_table(stage_rows(report.servers), ["server", "stage", "progress", "health", "reason", "fix"]))
    counts = ", ".join(f"{n} {stage}" for stage, n in report.counts.items() if n)
    held = f"; {report.held} held by a preflight problem (see reason and fix)" if report.held else ""
    print(f"{counts}{held} ({report.reads_per_cycle} reads)", file=sys.stderr)
    return EXIT_FAILURE if report.counts["blocked"] or report.held else EXIT_OK


def _table(rows: list[dict[str, str]], columns: list[str]) -> str:
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--sandbox",
        metavar="INFO_FILE",
        default=DEFAULT_SANDBOX_INFO,
        help=f"run against the sandbox whose info file this is (default: {DEFAULT_SANDBOX_INFO})",
    )
    where.add_argument(
        "--azure", action="store_true", help="run against Azure with DefaultAzureCredential (az login, env, identity)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="read everything, print what would change, write nothing"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of Markdown")
    _add_verbosity(parser, argparse.SUPPRESS)


def _add_verbosity(parser: argparse.ArgumentParser, default: object) -> None:
    """-v and --debug, accepted before or after the subcommand (a subcommand's SUPPRESS default
    leaves the top-level value alone)."""
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help="show the runs' logs too")
    parser.add_argument(
        "--debug", action="store_true", default=default, help="show everything: tracebacks, HTTP requests, debug logs"
    )


# -- the parser ----------------------------------------------------------------------------------
def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535; 0 picks a free one)")
    return value


def _stage(text: str) -> str:
    from plmigrate.lifecycle import parse_stage

    try:
        return parse_stage(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--to: ")) from None


def _add_sandbox(commands: argparse._SubParsersAction) -> None:
    sandbox = commands.add_parser("sandbox", help="the Azure emulator: run it, act as the resource owner, read counts")
    sub = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run ARM + admin API over HTTPS and the on-prem DNS server until SIGINT/SIGTERM",
        description="Run the sandbox until SIGINT or SIGTERM; clients read the info file it writes.",
    )
    serve.add_argument(
        "--scenario", default="default", metavar="FILE|default|empty", help="scenario YAML (default: default)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=0, help="HTTPS port; 0 picks a free one (default: 0)")
    serve.add_argument("--dns-port", type=_port, default=0, help="DNS port, UDP and TCP; 0 picks a free one")
    serve.add_argument("--state", metavar="FILE", help="restore the world from FILE and save it there")
    serve.add_argument("--info", metavar="FILE", required=True, help="where to write the connection info (JSON)")
    serve.set_defaults(func=cmd_sandbox_serve)

    approve = sub.add_parser(
        "approve",
        help="approve (or reject) pending private endpoint connections on a resource, as its owner",
    )
    approve.add_argument("--info", metavar="FILE", required=True, help="the running sandbox's info file")
    approve.add_argument("target_id", metavar="TARGET_ID", help="resource ID of the storage account or vault")
    approve.add_argument("--reject", action="store_true", help="reject instead of approve")
    approve.add_argument("--connection", metavar="NAME", help="only this connection (default: every pending one)")
    approve.add_argument("--description", help="the reason recorded on the connection")
    approve.set_defaults(func=cmd_sandbox_approve)

    register = sub.add_parser(
        "register-appliance",
        help="register a replication appliance with a vault, as a person does on the appliance",
        description="Register APPLIANCE (from the scenario) with the vault: makes its Site Recovery fabric, "
        "container, policy and process server. Fails (exit 1) as the appliance's setup would when the vault's "
        "private link names do not resolve to the endpoint's IPs from the appliance's DNS.",
    )
    register.add_argument("--info", metavar="FILE", required=True, help="the running sandbox's info file")
    register.add_argument("--vault", metavar="VAULT_ID", required=True, help="ARM ID of the Recovery Services vault")
    register.add_argument("appliance", metavar="APPLIANCE", help="the appliance's name, e.g. appliance-fin-01")
    register.set_defaults(func=cmd_sandbox_register_appliance)

    calls = sub.add_parser("calls", help="print ARM call counts by method, resource type and status (JSON)")
    calls.add_argument("--info", metavar="FILE", required=True, help="the running sandbox's info file")
    calls.set_defaults(func=cmd_sandbox_calls)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="plmigrate", description="Azure Migrate over Private Link, as Prefect flows.")
    _add_verbosity(parser, False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_sandbox(commands)
    prepare = commands.add_parser(
        "prepare",
        help="prepare a business unit's landing zone for replication over Private Link",
        description="Create resources, verify DNS, grant roles, create endpoints, await approval, select cache "
        "accounts. Exit 0 when done, 2 for invalid input, 1 for a failed step.",
    )
    prepare.add_argument("business_unit", metavar="BU_FILE", help="the business-unit YAML file (see deployments/)")
    _add_target_options(prepare)
    prepare.set_defaults(func=cmd_prepare)
    wave = commands.add_parser(
        "wave",
        help="run one migration wave of a business unit: landing zone, its storage accounts, every server's state",
        description="Exit 0 when every server is ready, 1 when any is blocked or a step failed, 2 for invalid input.",
    )
    wave.add_argument("business_unit", metavar="BU_FILE", help="the business-unit YAML file (see deployments/)")
    wave.add_argument("wave", metavar="WAVE", help="the wave to run, as named in the inventory (e.g. wave-01)")
    wave.add_argument(
        "--inventory", metavar="FILE", help="the wave inventory (default: waves/<business unit>.csv beside BU_FILE)"
    )
    wave.add_argument(
        "--to",
        metavar="STAGE",
        type=_stage,
        default="ready",
        help="drive every server to this stage, through the ones before it: ready (default), replicating, "
        "replicated, test-migrated, tested, migrated, completed",
    )
    wave.add_argument(
        "--change", metavar="TICKET", help="the approved change ticket; required for --to migrated/completed"
    )
    wave.add_argument("--approver", metavar="NAME", help="who approved the change (default: your user name)")
    wave.add_argument(
        "--servers", metavar="NAMES", help="with --to: move only these servers of the wave (comma-separated)"
    )
    _add_target_options(wave)
    wave.set_defaults(func=cmd_wave)
    status = commands.add_parser(
        "status",
        help="read every server's stage of a wave from Azure; writes nothing",
        description="Exit 0 when no server is blocked, 1 when any is, 2 for invalid input.",
    )
    status.add_argument("business_unit", metavar="BU_FILE", help="the business-unit YAML file (see deployments/)")
    status.add_argument("wave", metavar="WAVE", help="the wave, as named in the inventory (e.g. wave-01)")
    status.add_argument(
        "--inventory", metavar="FILE", help="the wave inventory (default: waves/<business unit>.csv beside BU_FILE)"
    )
    _add_target_options(status)
    status.set_defaults(func=cmd_status)
    return parser


def quiet_output(verbose: bool, debug: bool) -> None:
    """What reaches stderr: warnings and errors (the runs' waits and problems) by default; with
    `-v` also the runs' logs; with `--debug` everything, HTTP requests and the temporary Prefect
    server's own logs included. Set before Prefect is imported: it reads its settings then, and
    the temporary server inherits this environment. A setting the user exported wins."""
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
        if debug
        else "%(asctime)s %(levelname)-7s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", logging.getLevelName(level))
    # No network to send usage telemetry to here; trying logs an ERROR on every run. The client's
    # own telemetry (DO_NOT_TRACK) is off too: on a terminal `import prefect` otherwise prints a
    # notice into the middle of a migration's output. Exporting DO_NOT_TRACK=0 turns it back on.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # Prefect waits 20 s for its temporary server; on a busy 2-core machine start-up alone took
    # longer (`make demo` timed out at 20 s there), so wait longer before saying it did not start.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    # The temporary server's own logs (its shutdown included) are Prefect's business, not the user's.
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "DEBUG" if debug else "WARNING" if verbose else "CRITICAL")
    if not debug:
        # Every HTTP request (httpx: Prefect's client; azure: the SDK) is only wanted when debugging.
        for name in ("httpx", "httpcore", "azure"):
            logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # The sandbox's own commands say little, and `serve` says where it listens: shown by default.
    quiet_output(getattr(args, "verbose", False) or args.command == "sandbox", args.debug)
    try:
        return int(args.func(args))
    except PlmigrateError as exc:
        if args.debug:
            raise
        print(f"plmigrate: {exc}", file=sys.stderr)
        return exc.exit_code
    except (FileNotFoundError, ValueError) as exc:
        # Configuration problems found before any write: a missing info file, a wrong target.
        if args.debug:
            raise
        print(f"plmigrate: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except InvalidInput as exc:
        if args.debug:
            raise
        print(f"plmigrate: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except AdminError as exc:
        if args.debug:
            raise
        print(f"plmigrate: the sandbox refused: {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_INVALID if exc.status == 400 else EXIT_FAILURE
    except Exception as exc:
        if args.debug:
            raise
        print(f"plmigrate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
