"""Publishing to the Prefect UI: Markdown artifacts for the run summary and for what a person
must do (approve a connection)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.states import Failed

from plmigrate.errors import PlmigrateError
from plmigrate.report import render_failure


def artifact_key(text: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:100]


@task(name="publish-markdown", cache_policy=NO_CACHE)
def publish_markdown(key: str, markdown: str, description: str) -> None:
    create_markdown_artifact(key=artifact_key(key), markdown=markdown, description=description)


class Outcome:
    """What `failure_published` leaves for the flow to return: the Failed state of a failure
    plmigrate diagnosed itself (None while nothing failed)."""

    state: State[Any] | None = None


@contextmanager
def failure_published(key: str, what: str) -> Iterator[Outcome]:
    """Inside a flow: if the body raises, publish why (and the fix) as the run's last artifact.

    A failure plmigrate diagnosed (bad input, a step that says why and the fix) ends the run as a
    Failed state carrying the exception, logged as its one clean message: the flow returns
    `outcome.state` after the block, and its caller still gets the exception raised. Raised
    instead, the engine would log it with a long traceback first, which only buries the message.
    Anything else is raised as it is: there the traceback is what a developer needs."""
    outcome = Outcome()
    try:
        yield outcome
    except PlmigrateError as exc:
        publish_markdown(key, render_failure(what, exc), f"{what}: why the run failed")
        get_run_logger().error("%s", exc)
        outcome.state = Failed(message=str(exc), data=exc)
    except Exception as exc:
        publish_markdown(key, render_failure(what, exc), f"{what}: why the run failed")
        raise
