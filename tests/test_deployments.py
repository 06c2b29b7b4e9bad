"""The deployments: flows/prefect.yaml and `cleanclaim serve` declare the schedule the README promises."""

from __future__ import annotations

import pytest
import yaml

from cleanclaim.flows.cli import (
    NIGHTLY_CRON,
    NIGHTLY_TIMEZONE,
    SERVE_NAME,
    build_parser,
    serve_arguments,
)
from tests.conftest import REPO


def test_prefect_yaml_declares_the_nightly_and_adhoc_deployments_with_loadable_entrypoints(
    monkeypatch,
):
    from prefect.flows import load_flow_from_entrypoint

    monkeypatch.chdir(REPO)  # entrypoints are relative to the checkout, as on a worker
    spec = yaml.safe_load((REPO / "flows" / "prefect.yaml").read_text())
    deployments = {d["name"]: d for d in spec["deployments"]}
    assert set(deployments) == {"nightly", "adhoc"}
    nightly = deployments["nightly"]
    assert nightly["schedules"] == [
        {"cron": NIGHTLY_CRON, "timezone": NIGHTLY_TIMEZONE, "active": True}
    ]
    assert nightly["concurrency_limit"] == 1
    # paths only, the run configuration's among them (empty: found from the working folder)
    assert set(nightly["parameters"]) == {"inbox", "out", "config"}
    assert deployments["adhoc"]["parameters"] == {"config": "{{ $CLEANCLAIM_CONFIG }}"}
    names = {load_flow_from_entrypoint(d["entrypoint"]).name for d in deployments.values()}
    assert names == {"nightly-claims-validation", "validate-claim-file"}


def test_serve_schedules_the_flow_in_a_time_zone_with_folders_as_its_only_parameters(tmp_path):
    from cleanclaim.flows.nightly import nightly_claims_validation

    args = build_parser().parse_args(
        [
            "serve",
            "--inbox",
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "out"),
            "--timezone",
            "America/Chicago",
        ]
    )
    kwargs = serve_arguments(args)
    assert kwargs.pop("global_limit") == 1  # a flow.serve option, not a deployment field
    deployment = nightly_claims_validation.to_deployment(**kwargs)
    schedule = deployment.schedules[0].schedule
    assert (schedule.cron, schedule.timezone) == (NIGHTLY_CRON, "America/Chicago")
    assert deployment.parameters == {"inbox": str(tmp_path / "in"), "out": str(tmp_path / "out")}
    # its own name: prefect.yaml's `nightly` runs on a work pool, which serving would take over
    assert deployment.name == SERVE_NAME != "nightly"


def test_serve_hands_the_configuration_and_selection_to_its_runs(tmp_path):
    args = build_parser().parse_args(
        ["serve", "--inbox", "in", "--out", "out", "--name", "night-b", "--ignore", "DOC,GDL009"]
    )
    kwargs = serve_arguments(args, tmp_path / "cleanclaim.yaml")
    assert kwargs["name"] == "night-b"
    assert kwargs["parameters"]["config"] == str(tmp_path / "cleanclaim.yaml")
    assert kwargs["parameters"]["ignore"] == ["DOC", "GDL009"]


def test_the_nightly_hour_happens_once_every_day_across_daylight_saving_changes():
    """Prefect runs a 02:00 New York cron at 01:00 EST on spring-forward day (2027-03-14): 02:00
    does not exist that day. 03:00 exists once on every day of the year."""
    import asyncio
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from prefect.server.schemas.schedules import CronSchedule

    zone = ZoneInfo(NIGHTLY_TIMEZONE)

    def runs(cron: str, start: datetime) -> list[datetime]:
        dates = CronSchedule(cron=cron, timezone=NIGHTLY_TIMEZONE).get_dates(n=3, start=start)
        dates = asyncio.run(dates) if asyncio.iscoroutine(dates) else dates
        return [d.astimezone(zone) for d in dates]

    spring = runs("0 2 * * *", datetime(2027, 3, 13, 12, tzinfo=zone))
    assert (spring[0].date().isoformat(), spring[0].hour) == ("2027-03-14", 1)  # why not 02:00
    for start in (datetime(2027, 3, 13, 12, tzinfo=zone), datetime(2027, 11, 6, 12, tzinfo=zone)):
        nights = runs(NIGHTLY_CRON, start)
        assert [d.hour for d in nights] == [3, 3, 3]
        assert len({d.date() for d in nights}) == 3  # one run a day, none twice


def test_serve_refuses_an_unknown_time_zone_with_an_example(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--inbox", "i", "--out", "o", "--timezone", "Eastern"])
    assert "America/New_York" in capsys.readouterr().err
