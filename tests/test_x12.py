"""837P batches: the real public files in tests/data/x12 read as the files say, every
malformed one refused with a clear reason or reported by segment, and a synthetic batch validated
exactly as the same claims in a CSV."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from cleanclaim.flows import pipeline, x12
from cleanclaim.flows.extract import read_extract, sniff_format
from cleanclaim.flows.synth import synthesize, write_837
from cleanclaim.validators.catalog import load_catalog
from cleanclaim.validators.errors import ExtractError
from tests.conftest import AS_OF

X12 = Path(__file__).resolve().parent / "data" / "x12"


def lines_of(path: Path) -> list[dict]:
    extract = read_extract(path)
    return [
        {k: v for k, v in row.items() if v is not None}
        for row in extract.lines.drop("source_file", "clinical_note").to_dicts()
    ]


def test_a_5010_claim_comes_out_as_the_file_says():
    # UHIN's 837: one claim, ICD-10 R69, psychotherapy billed by a chiropractor, DOS a range (RD8)
    assert lines_of(X12 / "uhin" / "837.edi") == [
        {
            "claim_id": "1606",
            "line_number": "1",
            "patient_id": "601239742",
            "patient_dob": "1946-11-11",
            "patient_sex": "F",
            "payer_id": "FLHIN",
            "payer_name": "FLORIDA DIRECT UHIN PAYER",
            "billing_npi": "1245319599",
            "place_of_service": "11",
            "claim_filing_indicator": "CI",  # SBR09
            "service_date": "2024-08-15",
            "procedure_code": "90834",
            "units": "1",
            "charge_amount": "2",
            "diagnosis_pointers": "1",
            "dx_1": "R69",
            "source_row": 24,
        }
    ]  # SV1 is the 24th segment of the file


def test_a_dependent_patient_accident_claim_takes_the_patient_loop_and_the_accident_fields():
    rows = lines_of(X12 / "linuxforhealth" / "demo.autoaccident.837")
    assert [(r["procedure_code"], r["charge_amount"], r["source_row"]) for r in rows] == [
        ("99201", "150.00", 36),
        ("26010", "35.00", 39),
    ]
    first = rows[0]
    # HL 23: the patient's own birth date and sex (2010CA), not the subscriber's
    assert (first["patient_dob"], first["patient_sex"]) == ("1948-06-01", "M")
    assert first["patient_id"].startswith(
        "B99977791G/"
    )  # the subscriber's member ID + the dependent
    assert (first["accident_indicator"], first["injury_date"]) == (
        "AA",
        "2005-10-31",
    )  # CLM11 AA:::CA, DTP*439
    assert (first["billing_npi"], first["rendering_npi"], first["dx_1"]) == (
        "1253695747",
        "2366552595",
        "8540",
    )


def test_newline_terminators_indentation_and_a_bom_are_read():
    rows = lines_of(X12 / "oopfactory" / "837P_5010_ST1309-XX.txt")
    assert [
        (r["claim_id"], r["procedure_code"], r["charge_amount"], r["service_date"]) for r in rows
    ] == [("B330004Y", "99204", "250", "2013-03-12"), ("B330004Y", "73610", "110", "2013-03-12")]


def test_separators_are_taken_from_the_isa_header():
    def same(path):
        return [{k: v for k, v in r.items() if k != "source_row"} for r in lines_of(path)]

    different = same(
        X12 / "imsweb" / "x12_valid_different_separators.txt"
    )  # ~ element, ^ component, _ segment
    assert different == same(X12 / "imsweb" / "x12_valid.txt")
    assert [
        (r["claim_id"], r["procedure_code"], r.get("modifier_1"), r["diagnosis_pointers"])
        for r in different
    ] == [("A37YH556", "99211", "25", "1"), ("A37YH667", "478331", "25", "1,2,3")]


@pytest.mark.parametrize(
    "name, claims",
    [
        ("x12_multiple_isa.txt", 4),
        ("x12_multiple_gs.txt", 6),
        ("x12_multiple_st.txt", 4),
        ("x12_complex.txt", 6),
    ],
)
def test_every_envelope_of_a_file_is_read(name, claims):
    path = X12 / "imsweb" / name
    extract = read_extract(path)
    assert extract.lines.select(pl.struct("claim_id", "source_row").n_unique()).item() >= claims
    assert extract.lines["source_row"].n_unique() == extract.lines.height
    # every CLM of the file became a claim with lines, or a finding saying it has none
    clm = path.read_text().count("CLM*")
    starts = set(extract.lines["claim_id"]) | set(extract.rejected["claim_id"].drop_nulls())
    assert clm >= len(starts) > 0


@pytest.mark.parametrize(
    "folder, name, reason, says",
    [
        ("imsweb", "x12_no_isa_line.txt", "no_isa", "no ISA interchange header"),
        ("imsweb", "x12_bad_first_line.txt", "bad_isa", "ISA02 is 9, not 10"),
        ("imsweb", "x12_999_rejected.txt", "wrong_transaction", "acknowledgment (999)"),
        ("oopfactory", "837P_5010_UnicodeExample.txt", "bad_encoding", "UTF-16"),
        ("oopfactory", "837P_4010_Spec_4.2.1_PayerIsPCIns.txt", "wrong_version", "4010"),
        ("pyx12", "simple_837p_4010.txt", "wrong_version", "004010X098A1"),
        ("oopfactory", "837P_4010_FromNth_837_DeIdent_03.dat", "wrong_version", "999999X999X9"),
    ],
)
def test_an_unusable_batch_is_refused_with_its_reason(folder, name, reason, says):
    with pytest.raises(ExtractError) as caught:
        read_extract(X12 / folder / name)
    assert caught.value.reason == reason
    assert says in str(caught.value) and caught.value.expected


@pytest.mark.parametrize("cut", [3, 4, 50, 105])
def test_a_file_cut_inside_its_isa_header_is_refused(tmp_path, cut):
    """ "ISA" alone (and any cut before ISA16 and the segment terminator) indexed past the end."""
    text = (X12 / "imsweb" / "x12_valid.txt").read_text()
    (tmp_path / "cut.837").write_text(text[:cut])
    with pytest.raises(ExtractError, match="ends inside the ISA header") as caught:
        read_extract(tmp_path / "cut.837")
    assert caught.value.reason == "bad_isa"


def test_a_truncated_batch_is_refused_not_half_read(tmp_path):
    text = (X12 / "imsweb" / "x12_valid.txt").read_text()
    cut = tmp_path / "cut.837"
    cut.write_text(text[: text.index("GE*")])
    with pytest.raises(ExtractError, match="no closing IEA") as caught:
        read_extract(cut)
    assert caught.value.reason == "truncated"


@pytest.mark.parametrize(
    "folder, name, position, claim, says",
    [
        (
            "imsweb",
            "x12_segments_out_of_order.txt",
            16,
            "A37YH556",
            "N4 (city/state/ZIP) comes before its N3",
        ),
        (
            "oopfactory",
            "837P_5010_MissingEntityCode.txt",
            25,
            "9999",
            "no entity identifier code (NM101)",
        ),
        (
            "linuxforhealth",
            "demo.example6.837",
            28,
            "125WILL",
            "SV101 HC>98940 has no ':' component separator",
        ),
        (
            "linuxforhealth",
            "demo.example6.837",
            26,
            "125WILL",
            "HI elements BK>7215 are not qualifier:code",
        ),
        (
            "imsweb",
            "x12_valid.txt",
            23,
            "A37YH556",
            "HI elements BK, 8901, BF, 87200 are not qualifier:code",
        ),
    ],
)
def test_structural_problems_name_their_segment(folder, name, position, claim, says):
    problems = read_extract(X12 / folder / name).rejected
    hit = problems.filter(
        (pl.col("source_row") == position) & pl.col("problem").str.contains(says, literal=True)
    )
    assert hit.height == 1, problems.to_dicts()
    assert hit["claim_id"].item() == claim and hit["kind"].item() == x12.SEGMENT_KIND


def test_an_envelope_count_belongs_to_each_claim_of_its_set_never_to_a_blank_claim():
    """SE01's count is wrong: the clearinghouse rejects the whole set, so both of its claims carry
    it; it once became a third claim with a blank id, on hold, in the totals."""
    problems = read_extract(X12 / "imsweb" / "x12_valid.txt").rejected
    se01 = problems.filter(pl.col("problem").str.contains("SE01 says the transaction set has 25"))
    assert sorted(se01["claim_id"]) == ["A37YH556", "A37YH667"] and set(se01["source_row"]) == {36}
    (item,) = pipeline.discover([X12 / "imsweb" / "x12_valid.txt"])
    catalog = load_catalog()
    run = pipeline.Run(
        [pipeline.validate_file(item, catalog, AS_OF)], catalog, AS_OF, datetime.now()
    )
    assert run.claims["claim_id"].to_list() == ["A37YH556", "A37YH667"]


def test_clean_tr3_examples_have_no_structural_problem():
    for path in [
        *sorted((X12 / "linuxforhealth").glob("demo.example[12].837")),
        X12 / "uhin" / "837.edi",
    ]:
        assert read_extract(path).rejected.is_empty(), path.name


def test_icd9_qualifiers_on_a_modern_claim_are_a_code_validity_finding():
    catalog = load_catalog()
    item = pipeline.discover([X12 / "imsweb" / "x12_complex.txt"])[0]
    outcome = pipeline.validate_file(item, catalog, AS_OF)
    cod005 = outcome.findings.filter(pl.col("rule_id") == "COD005")
    assert cod005.select("claim_id", "source_row").rows()[0] == ("A37YH667", 77)
    assert set(cod005["category"]) == {"code-validity"}
    assert "ICD-9-CM qualifier BF for a service on 2016-03-24" in cod005["message"][0]
    # the 2005 claims of the same file used ICD-9 when it was the code set: not this finding
    assert (
        "A37YH556"
        not in outcome.findings.filter(pl.col("rule_id") == "COD005")["claim_id"].to_list()
    )


def test_the_820_claim_batch_streams_in_blocks(monkeypatch):
    path = X12 / "imsweb" / "x12_many_claims.txt"
    whole = read_extract(path)
    monkeypatch.setattr(x12, "BLOCK_BYTES", 4096)  # ~80 blocks, cut mid-claim and mid-segment
    streamed = read_extract(path)
    assert whole.lines.height == path.read_text().count("SV1*") == 820
    assert streamed.lines.equals(whole.lines)
    assert streamed.rejected.equals(whole.rejected)
    assert streamed.facts["segments"] == whole.facts["segments"] == path.read_text().count("~")


@pytest.mark.parametrize("suffix", [".txt", ".csv", ".edi", ".x12", ""])
def test_an_837_is_recognised_by_its_content_whatever_its_name(tmp_path, suffix):
    target = tmp_path / f"batch{suffix}"
    shutil.copy(X12 / "uhin" / "837.edi", target)
    assert sniff_format(str(target)) == "x12"
    assert read_extract(target).facts["format"] == "x12 837P"


def test_folders_pick_up_837_batches(tmp_path):
    for name in ("a.837", "b.edi", "c.x12"):
        shutil.copy(X12 / "uhin" / "837.edi", tmp_path / name)
    assert [i.path.name for i in pipeline.discover([tmp_path])] == ["a.837", "b.edi", "c.x12"]


def test_the_same_claims_as_csv_and_as_837_get_the_same_findings(tmp_path):
    """Every rule applies unchanged: a synthetic extract (with its field, coding and documentation
    problems) and the 837P batch written from it, each with the notes beside it."""
    catalog = load_catalog()
    extract, _ = synthesize(1500, tmp_path, catalog.codesets["icd10cm"].table)
    batch = write_837(extract)
    outcomes = [
        pipeline.validate_file(item, catalog, AS_OF) for item in pipeline.discover([extract, batch])
    ]
    assert (
        outcomes[1].facts["format"] == "x12 837P"
        and outcomes[1].facts["notes_file"] == "synthetic-1500.notes.csv"
    )
    csv_found, x12_found = (
        set(o.findings.select("claim_id", "rule_id").iter_rows()) for o in outcomes
    )
    assert len(csv_found) > 100 and csv_found == x12_found
    assert outcomes[0].lines.height == outcomes[1].lines.height == 1500


def test_reader_messages_carry_no_member_data(tmp_path):
    text = (X12 / "linuxforhealth" / "demo.autoaccident.837").read_text()
    bad = tmp_path / "bad.837"
    bad.write_text(
        text.replace("NM1*QC*1*DIMPSON*DJ", "NM1**1*DIMPSON*DJ").replace(
            "SV1*HC:99201", "SV1*HC>99201"
        )
    )
    problems = read_extract(bad).rejected
    assert problems.height == 2
    joined = " ".join(problems["problem"])
    for phi in ("DIMPSON", "HOWLING", "B99977791G", "19480601"):
        assert phi not in joined


@pytest.mark.parametrize(
    "cut, position, says",
    [
        ("SV1*HC:90834*2*UN*1***1~", 23, "LX (line number) is not followed by an SV1"),
        (
            "LX*1~\nSV1*HC:90834*2*UN*1***1~\nDTP*472*RD8*20240815-20240820~",
            21,
            "CLM has no LX/SV1 service line",
        ),
    ],
)
def test_a_claim_without_its_service_line_is_reported_not_lost(tmp_path, cut, position, says):
    text = (X12 / "uhin" / "837.edi").read_text()
    assert cut in text
    damaged = tmp_path / "damaged.837"
    damaged.write_text(text.replace(cut, ""))
    item = pipeline.discover([damaged])[0]
    outcome = pipeline.validate_file(item, load_catalog(), AS_OF)
    fld027 = outcome.findings.filter(pl.col("rule_id") == "FLD027")
    named = fld027.filter(pl.col("message").str.contains(says, literal=True))
    assert named.select("claim_id", "source_row").rows() == [("1606", position)]
    assert (
        fld027["message"].str.contains("SE01 says the transaction set has 24 segments").any()
    )  # its count is off now
