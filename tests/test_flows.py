"""The ad-hoc Prefect flow runs the same stages as the CLI, against a real (temporary) Prefect server."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
from datetime import date
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from tests.conftest import REPO, write_csv

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LOG_PRINTS="false",
    )
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(
        server_startup_timeout=120
    ):  # the default 30 s is tight on a busy 2-core CI
        yield home


def test_adhoc_flow_matches_the_cli(prefect_server, tmp_path):
    from cleanclaim.flows.adhoc import validate_claim_file
    from cleanclaim.flows.cli import main

    sample = REPO / "sample_claims" / "front_desk_typos.xlsx"
    summary = validate_claim_file(
        path=str(sample),
        report=str(tmp_path / "flow.xlsx"),
        findings=str(tmp_path / "flow.csv"),
        as_of=date(2026, 9, 30),
    )
    assert summary == {"lines": 12, "claims": 10, "findings": 14, "findings_high": 14}
    main(
        [
            "validate",
            str(sample),
            "--as-of",
            "2026-09-30",
            "--report",
            str(tmp_path / "cli.xlsx"),
            "--findings",
            str(tmp_path / "cli.csv"),
            "-q",
        ]
    )
    assert pl.read_csv(tmp_path / "flow.csv").equals(pl.read_csv(tmp_path / "cli.csv"))
    assert openpyxl.load_workbook(tmp_path / "flow.xlsx").sheetnames[:3] == [
        "Summary",
        "Claims",
        "Findings",
    ]


def test_unusable_file_fails_the_flow_with_a_clear_reason(prefect_server, tmp_path):
    from cleanclaim.flows.adhoc import validate_claim_file
    from cleanclaim.validators.errors import ExtractError

    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ExtractError, match="empty"):
        validate_claim_file(
            path=str(tmp_path / "empty.csv"),
            report=str(tmp_path / "r.xlsx"),
            findings=str(tmp_path / "f.csv"),
        )
    assert not (tmp_path / "r.xlsx").exists()  # never a clean-looking report for data not read


def test_no_task_or_flow_persists_results():
    """Claim frames pass between tasks in memory only: nothing is pickled into Prefect storage (T16)."""
    from cleanclaim.flows import adhoc

    for obj in (
        adhoc.load_extract,
        adhoc.check_fields,
        adhoc.write_reports,
        adhoc.validate_claim_file,
    ):
        assert obj.persist_result is False


# --------------------------------------------------------------------------- nightly


@pytest.fixture
def inbox(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    for name in ("spine_pain_clinic.csv", "spine_pain_clinic.notes.csv", "front_desk_typos.xlsx"):
        shutil.copy(REPO / "sample_claims" / name, folder / name)
    (folder / "broken.csv").write_text("")  # unusable: empty
    return folder


def nightly(inbox, out):
    from cleanclaim.flows.nightly import nightly_claims_validation

    return nightly_claims_validation(
        inbox=str(inbox), out=str(out), as_of=date(2026, 9, 30), settle_seconds=0, return_state=True
    )


def data(state) -> dict:
    """What a nightly run returned, Completed or Failed (flows/nightly.py run_data)."""
    from cleanclaim.flows.nightly import run_data

    return run_data(state)


def counts(state) -> dict:
    """The run's counts, without the per-file outcomes (names: for the CLI to print)."""
    return {k: v for k, v in data(state).items() if k != "outcomes"}


NONE = {"left to settle": 0, "ignored": 0, "remittance": 0}


def test_nightly_validates_archives_and_quarantines_with_a_reason(prefect_server, inbox, tmp_path):
    out = tmp_path / "out"
    state = nightly(inbox, out)
    # named by place and type in Prefect (a sender's file name can carry patient identifiers)
    assert state.is_failed() and "1 of 3 files" in state.message
    assert "file 1 of 4 (.csv)" in state.message and "broken.csv" not in state.message
    assert counts(state) == {
        "files": 3,
        "validated": 2,
        "quarantined": 1,
        "already processed": 0,
        "failed": 0,
        **NONE,
    }
    assert data(state)["outcomes"][0][:2] == ("broken.csv", "quarantined")
    day = out / "2026-09-30"
    assert sorted(p.name for p in day.glob("*.xlsx")) == [
        "front_desk_typos.xlsx.denial-risk.xlsx",
        "nightly-2026-09-30.denial-risk.xlsx",
        "spine_pain_clinic.csv.denial-risk.xlsx",
    ]
    assert sorted(p.name for p in (inbox / "archive").iterdir()) == [
        "front_desk_typos.xlsx",
        "spine_pain_clinic.csv",
        "spine_pain_clinic.notes.csv",
    ]
    assert "empty" in (inbox / "quarantine" / "broken.csv.reason.txt").read_text()
    # the consolidated workbook holds both files' findings and names the file it could not read
    both = pl.concat(
        [
            pl.read_csv(day / f"{s}.findings.csv", infer_schema=False)
            for s in ("front_desk_typos.xlsx", "spine_pain_clinic.csv")
        ]
    )
    assert (
        pl.read_csv(day / "nightly-2026-09-30.findings.csv", infer_schema=False).height
        == both.height
    )
    texts = [
        c.value
        for row in openpyxl.load_workbook(day / "nightly-2026-09-30.denial-risk.xlsx")[
            "Summary"
        ].iter_rows()
        for c in row
        if isinstance(c.value, str)
    ]
    assert any(t.startswith("NOT READ: broken.csv") for t in texts)


def test_the_nightly_inbox_takes_an_837p_batch_by_its_content(prefect_server, tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    shutil.copy(
        REPO / "sample_claims" / "clearinghouse_batch.837", inbox / "batch-0929.edi"
    )  # any extension
    shutil.copy(
        REPO / "sample_claims" / "clearinghouse_batch.notes.csv", inbox / "batch-0929.notes.csv"
    )
    state = nightly(inbox, out)
    assert state.is_completed() and state.result()["validated"] == 1
    found = pl.read_csv(out / "2026-09-30" / "batch-0929.edi.findings.csv", infer_schema=False)
    assert {"FLD027", "COD005", "DXP001"} <= set(found["rule_id"])
    assert sorted(p.name for p in (inbox / "archive").iterdir()) == [
        "batch-0929.edi",
        "batch-0929.notes.csv",
    ]


def test_the_same_file_dropped_twice_is_not_validated_twice(prefect_server, inbox, tmp_path):
    out = tmp_path / "out"
    (inbox / "broken.csv").unlink()
    assert nightly(inbox, out).is_completed()
    report = out / "2026-09-30" / "front_desk_typos.xlsx.denial-risk.xlsx"
    written = report.stat().st_mtime_ns
    shutil.copy(REPO / "sample_claims" / "front_desk_typos.xlsx", inbox / "front_desk_typos.xlsx")
    state = nightly(inbox, out)
    assert (
        state.is_completed()
        and state.result()["already processed"] == 1
        and state.result()["validated"] == 0
    )
    assert report.stat().st_mtime_ns == written
    # the same content is archived once (a different one under the name would get a tag)
    assert [p.name for p in (inbox / "archive").iterdir() if p.name.startswith("front_desk")] == [
        "front_desk_typos.xlsx"
    ]
    assert not list(inbox.glob("*.xlsx"))


def test_a_run_that_crashes_midway_is_finished_by_the_next(
    prefect_server, inbox, tmp_path, monkeypatch
):
    from cleanclaim.flows import pipeline
    from cleanclaim.flows.history import History
    from cleanclaim.flows.inbox import inbox_lock

    out = tmp_path / "out"
    (inbox / "broken.csv").unlink()
    real = pipeline.check

    def crash_on_spine(item, *args, **kwargs):
        if item.path.name.startswith("spine"):
            raise MemoryError  # resources, not the file: it stays for the next run
        return real(item, *args, **kwargs)

    monkeypatch.setattr(pipeline, "check", crash_on_spine)
    state = nightly(inbox, out)
    assert state.is_failed() and "1 files failed" in state.message
    assert data(state)["failed"] == 1
    assert (inbox / "spine_pain_clinic.csv").exists()
    with inbox_lock(inbox):  # the run let go of the lock
        pass
    monkeypatch.setattr(pipeline, "check", real)
    state = nightly(inbox, out)
    assert state.is_completed() and state.result()["validated"] == 1
    ledger = (out / ".cleanclaim" / "processed.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["file"] for line in ledger) == [
        "front_desk_typos.xlsx",
        "spine_pain_clinic.csv",
    ]
    assert [p.name for p in inbox.iterdir() if p.is_file()] == [".cleanclaim-nightly.lock"]
    assert (
        History(out).lines(date(2026, 9, 30))["_sha256"].n_unique() == 2
    )  # each file's lines once


def test_a_second_run_on_a_busy_inbox_stops_without_touching_it(prefect_server, inbox, tmp_path):
    from cleanclaim.flows.cli import EXIT_BUSY, main
    from cleanclaim.flows.inbox import inbox_lock

    with inbox_lock(inbox):
        code = main(
            [
                "nightly",
                "--inbox",
                str(inbox),
                "--out",
                str(tmp_path / "out"),
                "--as-of",
                "2026-09-30",
                "--settle-seconds",
                "0",
            ]
        )
    assert code == EXIT_BUSY
    assert not (tmp_path / "out" / "2026-09-30").exists() and not (inbox / "archive").exists()


def test_prefect_keeps_no_phi_from_a_nightly_run(prefect_server, inbox, tmp_path):
    """Search Prefect's database (and its WAL) and storage for the samples' member ids, dates of birth
    and note text after a nightly run: none may be there."""
    from prefect.settings import get_current_settings

    claims = pl.read_csv(inbox / "spine_pain_clinic.csv", infer_schema=False)
    notes = pl.read_csv(inbox / "spine_pain_clinic.notes.csv", infer_schema=False)
    phi = {*claims["patient_id"], *claims["patient_dob"], *(t[:30] for t in notes["note_text"])}
    # sender file names can carry a patient's name: validated, quarantined and ignored ones
    shutil.copy(REPO / "sample_claims" / "front_desk_typos.xlsx", inbox / "ZEBEDIAH_CANARYSON.xlsx")
    (inbox / "XAVIERA_CANARYFIELD.csv").write_text("")
    (inbox / "QUENTIN_CANARYWOOD.pdf").write_text("not claims")
    phi |= {"ZEBEDIAH_CANARYSON", "XAVIERA_CANARYFIELD", "QUENTIN_CANARYWOOD"}
    state = nightly(inbox, tmp_path / "out")
    assert ("QUENTIN_CANARYWOOD.pdf", "ignored") in [
        o[:2] for o in data(state)["outcomes"]
    ]  # kept in memory for the CLI to print
    url = get_current_settings().server.database.connection_url.get_secret_value()
    database = Path(url.split("///", 1)[1])
    stored = [p for p in database.parent.glob(database.name + "*") if p.is_file()]
    stored += [p for p in Path(prefect_server).rglob("*") if p.is_file()]
    assert database.exists() and len(stored) >= 1
    blob = b"".join(p.read_bytes() for p in stored)
    assert b"nightly-claims-validation" in blob  # the search does look at the run's records
    leaked = sorted(v for v in phi if v.encode() in blob)
    assert not leaked, f"{len(leaked)} PHI values found in Prefect's database or storage"


# --------------------------------------------------------------------------- run history across nights


def _night(folder, name, rows, as_of):
    from cleanclaim.flows.nightly import nightly_claims_validation

    write_csv(folder / "inbox" / name, rows)
    return nightly_claims_validation(
        inbox=str(folder / "inbox"),
        out=str(folder / "out"),
        as_of=as_of,
        settle_seconds=0,
        return_state=True,
    )


def test_duplicates_and_frequency_count_lines_from_earlier_nights(
    prefect_server, tmp_path, monkeypatch
):
    """Night 1 bills four lumbar ESI sessions and an office visit; night 2 a fifth session within
    twelve months and the same visit again. Night 2's first attempt crashes after its history rows
    are staged: the rerun must not count the file against itself."""
    from cleanclaim.flows import inbox as box

    (tmp_path / "inbox").mkdir()
    esi = {
        "patient_id": "PT-7",
        "procedure_code": "62323",
        "dx_1": "M54.16",
        "charge_amount": "900.00",
    }
    visit = {
        "patient_id": "PT-7",
        "procedure_code": "99213",
        "dx_1": "M54.16",
        "service_date": "2026-09-10",
    }
    first = [{**esi, "claim_id": f"E{m}", "service_date": f"2026-0{m}-10"} for m in (1, 3, 5, 7)]
    assert _night(
        tmp_path, "monday.csv", [*first, {**visit, "claim_id": "OLD1"}], date(2026, 9, 30)
    ).is_completed()
    monday = pl.read_csv(
        tmp_path / "out" / "2026-09-30" / "monday.csv.findings.csv", infer_schema=False
    )
    assert not {"DUP001", "FRQ001"} & set(monday["rule_id"])

    real = box.Ledger.record
    monkeypatch.setattr(
        box.Ledger, "record", lambda *a: (_ for _ in ()).throw(OSError("disk full"))
    )
    second = [
        {**esi, "claim_id": "E9", "service_date": "2026-09-20"},
        {**visit, "claim_id": "NEW1"},
    ]
    assert _night(tmp_path, "tuesday.csv", second, date(2026, 10, 1)).is_failed()
    monkeypatch.setattr(box.Ledger, "record", real)
    assert _night(tmp_path, "tuesday.csv", second, date(2026, 10, 1)).is_completed()

    tuesday = pl.read_csv(
        tmp_path / "out" / "2026-10-01" / "tuesday.csv.findings.csv", infer_schema=False
    )
    (dup,) = tuesday.filter(pl.col("rule_id") == "DUP001").iter_rows(named=True)
    assert dup["claim_id"] == "NEW1" and "OLD1" in dup["message"]
    (frq,) = tuesday.filter(pl.col("rule_id") == "FRQ001").iter_rows(named=True)
    assert frq["claim_id"] == "E9" and "session 5" in frq["message"]

    # the failed attempt's consolidated workbook stays; the rerun's is written beside it
    day = tmp_path / "out" / "2026-10-01"
    assert (day / "nightly-2026-10-01.denial-risk.xlsx").exists()
    trend = openpyxl.load_workbook(day / "nightly-2026-10-01-2.denial-risk.xlsx")["Trend"]
    rows = list(trend.iter_rows(min_row=2, values_only=True))
    assert [r[1].date() for r in rows] == [date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 1)]
    assert rows[-2][4] == 1 and rows[-1][4] == 0  # the crashed attempt shows its failed file


# --------------------------------------------------------------------------- Dask


def test_a_dask_cluster_finds_exactly_what_one_process_finds(prefect_server, tmp_path):
    """Two worker processes, files split into partitions of a few lines: the same findings, file by file."""
    from cleanclaim.flows.nightly import dask_runner, nightly_claims_validation

    names = (
        "spine_pain_clinic.csv",
        "spine_pain_clinic.notes.csv",
        "front_desk_typos.xlsx",
        "pain_procedures_batch.csv",
    )
    for run in ("threads", "dask"):
        (tmp_path / run / "inbox").mkdir(parents=True)
        for name in names:
            shutil.copy(REPO / "sample_claims" / name, tmp_path / run / "inbox" / name)
    kwargs = {"as_of": date(2026, 9, 30), "settle_seconds": 0, "return_state": True}
    local = nightly_claims_validation(
        inbox=str(tmp_path / "threads" / "inbox"), out=str(tmp_path / "threads" / "out"), **kwargs
    )
    on_dask = nightly_claims_validation.with_options(task_runner=dask_runner(workers=2))(
        inbox=str(tmp_path / "dask" / "inbox"),
        out=str(tmp_path / "dask" / "out"),
        partition_lines=5,
        **kwargs,
    )
    assert local.is_completed() and on_dask.is_completed()
    assert (
        counts(on_dask)
        == counts(local)
        == {
            "files": 3,
            "validated": 3,
            "quarantined": 0,
            "already processed": 0,
            "failed": 0,
            **NONE,
        }
    )
    day = Path("out") / "2026-09-30"
    written = sorted(p.name for p in (tmp_path / "threads" / day).glob("*.findings.csv"))
    assert len(written) == 4
    for name in written:
        threads = pl.read_csv(tmp_path / "threads" / day / name, infer_schema=False)
        dask = pl.read_csv(tmp_path / "dask" / day / name, infer_schema=False)
        assert threads.height > 0 and dask.equals(threads), name


def test_the_cli_hands_its_dask_options_to_the_flow(
    prefect_server, inbox, tmp_path, monkeypatch, capsys
):
    from prefect.task_runners import ThreadPoolTaskRunner

    from cleanclaim.flows import nightly
    from cleanclaim.flows.cli import main

    asked = []
    monkeypatch.setattr(
        nightly,
        "dask_runner",
        lambda address, workers: (
            asked.append((address, workers)) or ThreadPoolTaskRunner(max_workers=2)
        ),
    )
    (inbox / "broken.csv").unlink()
    code = main(
        [
            "nightly",
            "--inbox",
            str(inbox),
            "--out",
            str(tmp_path / "out"),
            "--as-of",
            "2026-09-30",
            "--dask-workers",
            "3",
            "--partition-lines",
            "4",
            "--settle-seconds",
            "0",
        ]
    )
    assert code == 0 and asked == [(None, 3)]
    assert (tmp_path / "out" / "2026-09-30" / "spine_pain_clinic.csv.findings.csv").exists()
    printed = capsys.readouterr().out  # every inbox file by name, in the terminal only
    assert "validated         spine_pain_clinic.csv" in printed
    assert "sidecar           spine_pain_clinic.notes.csv" in printed


def test_a_damaged_run_history_does_not_stop_the_night(prefect_server, inbox, tmp_path):
    """history.duckdb that cannot be opened (damaged, or held by another program): the files are
    still validated, reported and archived, and the run says what was not checked."""
    out = tmp_path / "out"
    (inbox / "broken.csv").unlink()
    (out / ".cleanclaim").mkdir(parents=True)
    (out / ".cleanclaim" / "history.duckdb").write_bytes(b"not a database" * 100)
    state = nightly(inbox, out)
    assert state.is_failed() and "run history" in state.message and "DUP001" in state.message
    assert data(state)["validated"] == 2
    day = out / "2026-09-30"
    assert (day / "spine_pain_clinic.csv.findings.csv").exists() and (
        day / "nightly-2026-09-30.denial-risk.xlsx"
    ).exists()
    assert (
        "Trend"
        not in openpyxl.load_workbook(day / "nightly-2026-09-30.denial-risk.xlsx").sheetnames
    )
    assert (
        len(list((out / ".cleanclaim" / "pending").iterdir())) == 2
    )  # kept for the next run to record
    assert [p.name for p in inbox.iterdir() if p.is_file()] == [".cleanclaim-nightly.lock"]


# --------------------------------------------------------------------------- configuration and conventions


def test_the_night_with_a_configuration_finds_what_the_adhoc_run_finds(
    prefect_server, tmp_path, capsys
):
    """The samples through `cleanclaim nightly --config` and `cleanclaim validate --config`: the
    same findings (the configuration's timely-filing limits and payer severities included)."""
    from cleanclaim.flows.cli import main

    samples, inbox, out = REPO / "sample_claims", tmp_path / "inbox", tmp_path / "out"
    shutil.copytree(samples, inbox, ignore=shutil.ignore_patterns("*.md", "*.yaml"))
    shutil.copy(samples / "legacy_pm_export.mapping.yaml", inbox)
    config = str(samples / "cleanclaim.yaml")
    common = ["--as-of", "2026-09-30", "--config", config]
    assert (
        main(
            ["nightly", "--inbox", str(inbox), "--out", str(out), "--settle-seconds", "0", *common]
        )
        == 0
    )
    said = capsys.readouterr().out.splitlines()
    assert any(line.startswith(f"cleanclaim nightly · config {config}") for line in said)
    main(["validate", str(samples), *common, "--report", str(tmp_path / "r.xlsx"),
          "--findings", str(tmp_path / "adhoc.csv"), "-q"])  # fmt: skip
    key = ["source_file", "source_row", "rule_id", "claim_id", "line_number", "message"]
    night = pl.read_csv(out / "2026-09-30" / "nightly-2026-09-30.findings.csv", infer_schema=False)
    adhoc = pl.read_csv(tmp_path / "adhoc.csv", infer_schema=False)
    assert night.height == adhoc.height > 0
    assert night.sort(key).equals(adhoc.select(night.columns).sort(key))
    assert {"TMF001", "TMF002"} <= set(night["rule_id"])  # the configuration reached the night


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self):
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


def test_a_failed_night_notifies_the_configured_block_without_phi(prefect_server, inbox, tmp_path):
    """A quarantined file fails the run; its on_failure hook posts to the webhook block the
    configuration names (a receiver on 127.0.0.1 here), naming the file by position and type."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.client.orchestration import get_client

    from cleanclaim.flows.nightly import NightlyRunError, nightly_claims_validation

    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    CustomWebhookNotificationBlock(
        name="ops",
        url=f"http://127.0.0.1:{server.server_port}/hook",
        json_data={"text": "{{subject}}: {{body}}"},
    ).save("ops-hook", overwrite=True)
    config = tmp_path / "cleanclaim.yaml"
    config.write_text("notify_block: custom-webhook/ops-hook\n")
    state = nightly_claims_validation(
        inbox=str(inbox), out=str(tmp_path / "out"), as_of=date(2026, 9, 30), settle_seconds=0,
        config=str(config), return_state=True,
    )  # fmt: skip
    server.shutdown()
    assert state.is_failed()
    with pytest.raises(NightlyRunError):  # an exception a worker can resolve, not a dict
        state.result()
    (body,) = _Receiver.bodies
    text = json.loads(body)["text"]
    assert "nightly-2026-09-30" in text and "Failed" in text and "file 1 of 4 (.csv)" in text
    claims = pl.read_csv(REPO / "sample_claims" / "spine_pain_clinic.csv", infer_schema=False)
    phi = {
        "broken",
        "spine_pain_clinic",
        "front_desk",
        *claims["patient_id"],
        *claims["patient_dob"],
    }
    assert not [v for v in phi if v in text]
    # Prefect's conventions: the run's name, task runs by position and type, one artifact
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
        tasks = client.read_task_runs()
        artifact = client.read_latest_artifacts()
    assert run.name == "nightly-2026-09-30"
    names = [t.name for t in tasks if t.flow_run_id == run.id]
    assert any(n.startswith("read file 3 of 4 (.csv)") for n in names)
    assert not [n for n in names if "spine" in n or "front" in n]
    (markdown,) = [a.data for a in artifact if a.key == "nightly-claims-validation"]
    assert "| file 1 of 4 (.csv) | quarantined |" in markdown
    assert "| file 3 of 4 (.csv) | validated |" in markdown
    assert "nightly-2026-09-30.denial-risk.xlsx" in markdown
    assert not [v for v in phi if v in markdown]


def test_nightly_prints_json_and_serve_warns_of_a_deployment_on_a_work_pool(
    prefect_server, inbox, tmp_path, capsys
):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    from cleanclaim.flows.cli import SERVE_NAME, main, pooled_deployment

    args = ["nightly", "--inbox", str(inbox), "--out", str(tmp_path / "out"), "--as-of",
            "2026-09-30", "--settle-seconds", "0", "--format", "json"]  # fmt: skip
    assert main(args) == 2
    summary = json.loads(capsys.readouterr().out)  # nothing else on stdout
    assert (summary["state"], summary["exit_code"], summary["config"]) == ("Failed", 2, None)
    assert (summary["validated"], summary["quarantined"]) == (2, 1)
    assert [o["outcome"] for o in summary["outcomes"]] == [
        "quarantined",
        "validated",
        "validated",
        "sidecar",
    ]
    with get_client(sync_client=True) as client:  # prefect.yaml's deployment, on its work pool
        client.create_work_pool(WorkPoolCreate(name="cleanclaim", type="process"))
        flow_id = client.create_flow_from_name("nightly-claims-validation")
        client.create_deployment(flow_id=flow_id, name="nightly", work_pool_name="cleanclaim")
    assert pooled_deployment("nightly-claims-validation", "nightly") == "cleanclaim"
    assert pooled_deployment("nightly-claims-validation", SERVE_NAME) is None


def test_a_line_billed_in_two_files_of_one_night_is_a_duplicate(prefect_server, tmp_path):
    (tmp_path / "inbox").mkdir()
    line = {"procedure_code": "20552", "dx_1": "M62.830"}
    state = _night(tmp_path, "a.csv", [{"claim_id": "A1", **line}], date(2026, 9, 30))
    assert state.is_completed()  # alone, no duplicate
    (tmp_path / "inbox" / "archive").rename(tmp_path / "night1")
    for name, claim in (("c.csv", "C1"), ("b.csv", "B1")):
        write_csv(
            tmp_path / "inbox" / name, [{"claim_id": claim, **line, "service_date": "2026-09-20"}]
        )
    _night(tmp_path, "d.csv", [{"claim_id": "D1", "procedure_code": "99213"}], date(2026, 9, 30))
    day = tmp_path / "out" / "2026-09-30"

    def dup(name: str) -> list[str]:
        found = pl.read_csv(day / f"{name}.findings.csv", infer_schema=False)
        return found.filter(pl.col("rule_id") == "DUP001")["message"].to_list()

    assert dup("b.csv") == [] and dup("d.csv") == []  # b.csv comes first in the inbox
    (message,) = dup("c.csv")
    assert "claim B1" in message
