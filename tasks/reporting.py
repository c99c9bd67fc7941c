"""Publishing to the Prefect UI: Markdown artifacts for the run summary and for what a person
must do (approve a connection, or fix what made the run fail)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.states import Failed

from plmigrate.errors import InputError, PlmigrateError
from plmigrate.report import MissingFile, render_failure

NEARBY_LISTED = 10


def artifact_key(text: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:100]


@task(name="publish-markdown", cache_policy=NO_CACHE)
def publish_markdown(key: str, markdown: str, description: str) -> None:
    create_markdown_artifact(key=artifact_key(key), markdown=markdown, description=description)


def missing_files(files: Mapping[str, str], root: Path | None = None) -> list[MissingFile]:
    """The form's files (field → path as given) that are not there, each with where it was looked
    for and the files of its kind in the nearest folder that exists."""
    root = (root or Path.cwd()).resolve()
    missing: list[MissingFile] = []
    for label, given in files.items():
        path = root / given
        if not given or path.is_file():
            continue
        folder = path.parent
        while not folder.is_dir() and folder != folder.parent:
            folder = folder.parent
        try:
            entries = sorted(p for p in folder.iterdir() if p.is_file())
        except OSError:
            entries = []
        same_kind = [p for p in entries if p.suffix.lower() == path.suffix.lower()] or entries
        shown = folder.relative_to(root) if folder.is_relative_to(root) else folder
        missing.append(
            MissingFile(
                field=label,
                given=given,
                looked_for=str(path),
                root=str(root),
                folder=f"{shown}/" if str(shown) != "." else "the project root",
                nearby=[p.name for p in same_kind[:NEARBY_LISTED]],
            )
        )
    return missing


class Outcome:
    """What `failure_published` leaves for the flow: `state`, the Failed state of a failure
    plmigrate diagnosed itself (None while nothing failed); `key`, where the failure is published,
    stable: per flow until the business unit is read, then set by the flow per business unit, never
    built from a path or name that may be wrong; `files`, each form field naming a file → the path given."""

    def __init__(self, key: str, files: Mapping[str, str] | None = None) -> None:
        self.key = key
        self.files = dict(files or {})
        self.state: State[Any] | None = None


@contextmanager
def failure_published(key: str, what: str, files: Mapping[str, str] | None = None) -> Iterator[Outcome]:
    """Inside a flow: if the body raises, publish why (and the fix) as the run's last artifact.

    A failure plmigrate diagnosed (bad input, a step that says why and the fix) ends the run as a
    Failed state carrying the exception, logged as its one clean message: the flow returns
    `outcome.state` after the block, and its caller still gets the exception raised. Raised
    instead, the engine would log it with a long traceback first, which only buries the message.
    Anything else is raised as it is: there the traceback is what a developer needs. Bad input whose
    file is not there gets the fix for that file: where it was looked for and what is there instead."""
    outcome = Outcome(key, files)
    try:
        yield outcome
    except PlmigrateError as exc:
        missing = missing_files(outcome.files) if isinstance(exc, InputError) else []
        publish_markdown(outcome.key, render_failure(what, exc, missing), f"{what}: why the run failed")
        get_run_logger().error("%s", exc)
        outcome.state = Failed(message=str(exc), data=exc)
    except Exception as exc:
        publish_markdown(outcome.key, render_failure(what, exc), f"{what}: why the run failed")
        raise
