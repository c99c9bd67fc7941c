"""Publishing to the Prefect UI: Markdown artifacts for the run summary and for what a person
must do (approve a connection)."""

from __future__ import annotations

import re

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE


def artifact_key(text: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:100]


@task(name="publish-markdown", cache_policy=NO_CACHE)
def publish_markdown(key: str, markdown: str, description: str) -> None:
    create_markdown_artifact(key=artifact_key(key), markdown=markdown, description=description)
