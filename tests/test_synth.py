"""`cleanclaim synth`: realistic, deterministic, and read back by the pipeline like any extract."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from cleanclaim.flows import pipeline
from cleanclaim.flows.cli import main
from cleanclaim.flows.synth import COMORBIDITY_CATEGORIES, DIRTY, synthesize
from cleanclaim.validators.schema import npi_check_digit_ok

AS_OF = date(2026, 9, 30)


@pytest.fixture(scope="module")
def written(tmp_path_factory, catalog):
    folder = tmp_path_factory.mktemp("synth")
    assert main(["synth", "--lines", "20000", "--out", str(folder), "--seed", "3"]) == 0
    return folder / "synthetic-20000.csv", folder / "synthetic-20000.notes.csv"


def test_the_same_seed_writes_the_same_files(written, tmp_path, catalog):
    again, notes = synthesize(20_000, tmp_path, catalog.codesets["icd10cm"].table, seed=3)
    assert (
        again.read_bytes() == written[0].read_bytes()
        and notes.read_bytes() == written[1].read_bytes()
    )
    other, _ = synthesize(20_000, tmp_path / "other", catalog.codesets["icd10cm"].table, seed=4)
    assert other.read_bytes() != written[0].read_bytes()


def test_claims_look_like_a_spine_pain_and_therapy_practice(written, catalog):
    lines = pl.read_csv(written[0], infer_schema=False)
    assert lines.height == 20_000
    per_claim = lines.group_by("claim_id").len()["len"]
    assert per_claim.min() >= 1 and per_claim.max() <= 4
    dx = lines.select([f"dx_{i}" for i in range(1, 13)])
    filled = dx.select(
        pl.sum_horizontal(pl.col(c).is_not_null().cast(pl.Int8) for c in dx.columns).alias("n")
    )["n"]
    assert filled.min() >= 1 and filled.max() <= 6
    secondary = pl.concat([dx[f"dx_{i}"] for i in range(3, 7)]).drop_nulls()
    assert secondary.str.slice(0, 3).is_in(COMORBIDITY_CATEGORIES).all()
    billable = set(catalog.codesets["icd10cm"].table.filter(pl.col("billable"))["code"])
    assert secondary.is_in(list(billable)).all()  # real billable ICD-10-CM codes
    npis = pl.concat([lines["billing_npi"], lines["rendering_npi"]]).unique()
    assert (
        pl.DataFrame({"npi": npis}).select(npi_check_digit_ok(pl.col("npi")).mean()).item() > 0.95
    )
    procedures = (
        lines["procedure_code"]
        .value_counts()
        .sort("count", descending=True)["procedure_code"]
        .head(8)
    )
    assert {"97110", "99213", "64483"} <= set(procedures)


def test_a_realistic_share_of_claims_have_problems_and_most_are_clean(written, catalog):
    item = pipeline.discover([written[0]])[0]
    assert item.notes == written[1]  # the notes sidecar is found like any other
    run = pipeline.Run(
        [pipeline.validate_file(item, catalog, AS_OF)], catalog, AS_OF, datetime.now()
    )
    status = run.claims["status"].value_counts()
    share = dict(zip(status["status"], status["count"] / run.claims.height, strict=True))
    assert 0.5 < share["clean"] < 0.95 and share["hold"] < 0.2
    fired = set(run.findings["rule_id"])
    # the front office's mistakes the generator plants are each caught
    assert {"COD002", "COD003", "DXP001", "INJ001", "MOD003", "FLD011", "DOC002"} <= fired, sorted(
        fired
    )


def test_the_dirty_profile_is_a_new_clients_first_file(written, tmp_path, catalog):
    """`--dirty`: deterministic, no discipline modifier on any therapy line, and several times the
    clean profile's findings a line (the scale benchmark's many-findings extract)."""
    args = ["synth", "--lines", "20000", "--out", str(tmp_path), "--seed", "3", "--dirty"]
    assert main(args) == 0
    dirty = tmp_path / "synthetic-dirty-20000.csv"
    again, _ = synthesize(
        20_000, tmp_path / "again", catalog.codesets["icd10cm"].table, seed=3, profile=DIRTY
    )
    assert again.read_bytes() == dirty.read_bytes() != written[0].read_bytes()
    lines = pl.read_csv(dirty, infer_schema=False)
    assert lines.height == 20_000 and not lines["modifier_1"].is_in(["GP", "GO", "GN"]).any()

    def findings_per_line(extract):
        item = pipeline.discover([extract])[0]
        return pipeline.validate_file(item, catalog, AS_OF).findings.height / 20_000

    clean, many = findings_per_line(written[0]), findings_per_line(dirty)
    assert many > 1.8 and many > 3 * clean, (clean, many)
