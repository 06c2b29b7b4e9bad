"""The deployments: flows/prefect.yaml and `cleanclaim serve` declare the schedule the README promises."""

from __future__ import annotations

import pytest
import yaml

from flows.cli import NIGHTLY_CRON, NIGHTLY_TIMEZONE, build_parser, serve_arguments
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
    assert nightly["concurrency_limit"] == 1 and set(nightly["parameters"]) == {"inbox", "out"}
    names = {load_flow_from_entrypoint(d["entrypoint"]).name for d in deployments.values()}
    assert names == {"nightly-claims-validation", "validate-claim-file"}


def test_serve_schedules_the_flow_in_a_time_zone_with_folders_as_its_only_parameters(tmp_path):
    from flows.nightly import nightly_claims_validation

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
    assert (schedule.cron, schedule.timezone) == ("0 2 * * *", "America/Chicago")
    assert deployment.parameters == {"inbox": str(tmp_path / "in"), "out": str(tmp_path / "out")}


def test_serve_refuses_an_unknown_time_zone_with_an_example(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--inbox", "i", "--out", "o", "--timezone", "Eastern"])
    assert "America/New_York" in capsys.readouterr().err
