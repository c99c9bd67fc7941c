"""`plmigrate` as a person runs it from a terminal: a subprocess with no PREFECT_API_URL, so the
run goes on a temporary Prefect server nobody can open. It must never pause for a UI, must say
which connection waits and the exact command to approve it, keep stderr quiet, and refuse bad
input or a stopped sandbox before any Prefect server starts."""

from __future__ import annotations

import os
import pty
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from plmigrate.cli import main
from plmigrate.sandbox import Sandbox
from tests.pipeline.conftest import default_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def terminal_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a person's shell: no Prefect server configured, nothing of the tests'
    Prefect settings; a Prefect home of its own (the temporary server's database goes there)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"  # a shared 2-core machine
    return env


class Running:
    """A `plmigrate` subprocess whose stderr is collected line by line as it comes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "plmigrate", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str] | None, lines: list[str]) -> None:
        assert stream is not None
        for line in stream:
            lines.append(line)

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.err):
                if found := re.search(pattern, line):
                    return found
            if self.process.poll() is not None and not self._readers[1].is_alive():
                break
            time.sleep(0.2)
        raise AssertionError(f"no stderr line matched {pattern!r}:\n{''.join(self.err)}")

    def finish(self, timeout: float) -> tuple[int, str, str]:
        self.process.wait(timeout)
        for reader in self._readers:
            reader.join(10)
        return self.process.returncode, "".join(self.out), "".join(self.err)


@pytest.fixture
def running() -> Iterator[Callable[[list[str], dict[str, str]], Running]]:
    started: list[Running] = []

    def start(args: list[str], env: dict[str, str]) -> Running:
        started.append(Running(args, env))
        return started[-1]

    yield start
    for run in started:  # never leave a run (and its temporary Prefect server) behind
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait(30)


def _on_a_terminal(code: str, env: dict[str, str]) -> str:
    """What `python -c CODE` prints with its stdout and stderr on a pseudo-terminal, as in a
    person's shell (Prefect says some things only to a terminal)."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed its side of the terminal
            break
        if not data:
            break
        chunks.append(data)
    process.wait(120)
    os.close(master)
    return b"".join(chunks).decode(errors="replace")


def test_prefects_telemetry_notice_stays_off_a_persons_terminal(tmp_path: Path) -> None:
    from prefect._internal.analytics.ci_detection import CI_ENV_VARS

    # A person's shell: not CI (Prefect stays silent there), no telemetry choice made.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k not in CI_ENV_VARS}
    env.pop("DO_NOT_TRACK", None)
    env["PREFECT_HOME"] = str(tmp_path / "bare")
    # Control: on a fresh Prefect home, a bare import prints the notice to the terminal.
    assert "anonymous usage" in _on_a_terminal("import prefect", env)
    env["PREFECT_HOME"] = str(tmp_path / "plmigrate")
    said = _on_a_terminal("from plmigrate.cli import quiet_output; quiet_output(False, False); import prefect", env)
    assert "anonymous usage" not in said, said


def _info(box: Sandbox, tmp_path: Path) -> str:
    path = tmp_path / "info.json"
    box.info.write(path)
    return str(path)


def test_a_terminal_run_waits_by_reading_azure_says_how_to_approve_and_stays_quiet(
    world, business_unit, tmp_path: Path, terminal_env, running
) -> None:
    box = world(default_scenario())  # the storage team owns stfincache01: its connection waits for them
    bu = business_unit(approval={"pause_in_ui": True, "timeout_seconds": 240, "poll_seconds": 1})
    run = running(["prepare", str(bu), "--sandbox", _info(box, tmp_path)], terminal_env)
    # pause_in_ui is on, but nobody could open this run's Prefect server: it must not pause.
    command = run.wait_for_line(r"`(plmigrate sandbox approve [^`]+)`", timeout=240).group(1)
    assert "stfincache01" in command
    line = next(line for line in run.err if "sandbox approve" in line)
    assert "is Pending" in line and "re-reads Azure" in line
    assert main(shlex.split(command)[1:]) == 0  # the owner runs exactly what they were told
    code, out, err = run.finish(timeout=240)
    assert code == 0, err
    # Quiet: no HTTP request lines, no telemetry ERROR, no traceback; the wait is what is said.
    assert "Traceback" not in err and "HTTP Request" not in err and "ERROR" not in err, err
    assert len(err.splitlines()) <= 4, err
    # The endpoint created in this run says so, though it was re-read after its approval.
    assert re.search(r"\| blob endpoint of stfincache01 \| `[^`]+` \| created \|", out), out
    assert re.search(r"\| stfincache01 \| `[^`]+` \| Approved \| Approved; noticed by re-reading Azure", out), out
    for zone in ("privatelink.blob.core.windows.net", "privatelink.siterecovery.windowsazure.com"):
        assert re.search(rf"\| private DNS zone \| `[^`]+/{re.escape(zone)}` \| created \|", out), out


def test_bad_input_exits_2_before_any_prefect_server_starts(
    world, business_unit, tmp_path: Path, terminal_env, running
) -> None:
    box = world(default_scenario())
    run = running(["prepare", str(business_unit(vault_name="-bad")), "--sandbox", _info(box, tmp_path)], terminal_env)
    code, _, err = run.finish(timeout=60)
    assert code == 2
    assert "vault_name" in err and "temporary Prefect server" not in err and "Traceback" not in err
    inventory = tmp_path / "inventory.csv"
    inventory.write_text((ROOT / "deployments/waves/finance.csv").read_text())
    run = running(
        ["wave", str(business_unit()), "wave-99", "--inventory", str(inventory), "--sandbox", _info(box, tmp_path)],
        terminal_env,
    )
    code, _, err = run.finish(timeout=60)
    assert code == 2 and "wave 'wave-99'" in err and "temporary Prefect server" not in err, err
    assert box.world.call_report()["writes"] == 0


def test_a_stopped_sandbox_is_said_in_seconds_with_how_to_start_it(
    make_sandbox, business_unit, tmp_path: Path, capsys
) -> None:
    box = make_sandbox("default")
    info = _info(box, tmp_path)
    box.stop()
    started = time.monotonic()
    assert main(["prepare", str(business_unit()), "--sandbox", info]) == 2
    err = capsys.readouterr().err
    assert time.monotonic() - started < 10
    assert "is not running" in err and f"plmigrate sandbox serve --info {info}" in err, err
    assert main(["sandbox", "calls", "--info", info]) == 2
    assert "is not running" in capsys.readouterr().err


def test_a_temporary_prefect_server_that_does_not_start_says_what_to_do(
    world, business_unit, tmp_path: Path, terminal_env, running
) -> None:
    box = world(default_scenario())
    slow = dict(terminal_env, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="0")  # never long enough
    run = running(["prepare", str(business_unit()), "--sandbox", _info(box, tmp_path), "--dry-run"], slow)
    code, _, err = run.finish(timeout=120)
    assert code == 1
    assert "the temporary Prefect server did not start within 0 s" in err, err
    assert "prefect server start" in err and "PREFECT_API_URL" in err
    assert "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" in err
    assert "Traceback" not in err and "Timed out while attempting" not in err


def test_the_owners_commands_say_what_is_wrong_with_what_they_were_given(make_sandbox, tmp_path: Path, capsys) -> None:
    box = make_sandbox("default")
    info = _info(box, tmp_path)
    sub = box.info.subscription_id
    unknown = (
        f"/subscriptions/{sub}/resourceGroups/rg-storage-finance/providers/Microsoft.Storage/storageAccounts/nope1"
    )
    assert main(["sandbox", "approve", "--info", info, unknown]) == 2
    err = capsys.readouterr().err
    assert f"the sandbox has no resource {unknown}" in err and "full resource ID" in err
    account = unknown.replace("nope1", "stfincache01")  # exists, but no endpoint asks it for anything yet
    assert main(["sandbox", "approve", "--info", info, account]) == 1
    assert "no pending private endpoint connection" in (err := capsys.readouterr().err), err
    assert "it has no private endpoint connections yet" in err
    assert main(["sandbox", "calls", "--info", str(tmp_path)]) == 2  # a directory, not the file
    err = capsys.readouterr().err
    assert "is a directory" in err and "IsADirectoryError" not in err and str(tmp_path / "info.json") in err
