"""Every wait has a deadline from the business-unit file: the operation and run timeouts validate
against the waits they must outlast, and the run's default covers every wait it may do."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from plmigrate.errors import InputError
from plmigrate.model import BusinessUnit

FINANCE = Path(__file__).resolve().parents[2] / "deployments" / "finance.yaml"


def finance(**changes: object) -> dict:
    data = yaml.safe_load(FINANCE.read_text())
    data.pop("migration", None)
    data.update(changes)
    return data


def test_the_run_deadline_defaults_to_every_wait_plus_four_hours() -> None:
    bu = BusinessUnit.parse(finance(approval={"timeout_seconds": 600}))
    assert bu.timeouts.operation_seconds == 1800 and bu.timeouts.run_seconds is None
    assert bu.run_timeout_seconds == 600 + 4 * 3600
    with_migration = BusinessUnit.parse(yaml.safe_load(FINANCE.read_text()))
    if with_migration.migration is not None:  # the stages' timeouts are waits the run may do too
        t = with_migration.migration.timeouts
        assert with_migration.run_timeout_seconds > t.initial_replication_seconds + t.enable_seconds
    assert BusinessUnit.parse(finance(timeouts={"run_seconds": 7200})).run_timeout_seconds == 7200


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"timeouts": {"run_seconds": 3600}}, "timeouts.run_seconds (3600) is not longer than the waits"),
        (
            {"timeouts": {"operation_seconds": 9000, "run_seconds": 8000}},
            "operation_seconds is longer than run_seconds",
        ),
        ({"timeouts": {"operation_seconds": 0}}, "timeouts.operation_seconds"),
    ],
)
def test_deadlines_that_cannot_work_are_input_errors(change: dict, problem: str) -> None:
    with pytest.raises(InputError) as error:
        BusinessUnit.parse(finance(**change))
    assert problem in str(error.value)
