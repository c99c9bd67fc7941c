"""Publishing to the Prefect UI: Markdown artifacts for the run summary and for what a person
must do (approve a connection)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from plmigrate.report import render_failure


def artifact_key(text: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:100]


@task(name="publish-markdown", cache_policy=NO_CACHE)
def publish_markdown(key: str, markdown: str, description: str) -> None:
    create_markdown_artifact(key=artifact_key(key), markdown=markdown, description=description)


@contextmanager
def failure_published(key: str, what: str) -> Iterator[None]:
    """Inside a flow: if the body raises, publish why (and the fix) as the run's last artifact,
    then let the exception fail the run as before."""
    try:
        yield
    except Exception as exc:
        publish_markdown(key, render_failure(what, exc), f"{what}: why the run failed")
        raise
