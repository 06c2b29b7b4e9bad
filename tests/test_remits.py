"""835 remittances: the public files in tests/data/x12 read as they say, the wrong files refused
with a reason, and no patient name or member id read into any table."""

from __future__ import annotations

import codecs
from pathlib import Path

import polars as pl
import pytest

from cleanclaim.flows import x12
from cleanclaim.flows.remits import read_835
from cleanclaim.validators.errors import ExtractError

X12 = Path(__file__).resolve().parent / "data" / "x12"
DEIDENT = X12 / "oopfactory" / "835_4010_FromNth_835_DeIdent_02.dat"


def restored_version(tmp_path: Path) -> Path:
    """OopFactory's de-identified real remittance with its masked GS08 (999999X999X9) written as
    005010X221A1: the segments read here (CLP, CAS, SVC, DTM*472, REF*6R, LQ, PLB) are the same in
    4010 X091A1 and 5010 X221A1."""
    target = tmp_path / "deident.835"
    target.write_bytes(DEIDENT.read_bytes().replace(b"*999999X999X9~", b"*005010X221A1~"))
    return target


def every_text(r) -> set[str]:
    frames = (r.claims, r.lines, r.adjustments, r.plb, r.problems)
    return {
        v
        for f in frames
        for c, t in f.schema.items()
        if t == pl.String
        for v in f[c].drop_nulls().to_list()
    }


def test_managed_care_remit_reads_as_the_file_says():
    r = read_835(X12 / "linuxforhealth" / "managed-care.835")
    assert r.claims.select(
        "claim_id", "status", "charge", "paid", "patient_responsibility", "payer_claim_control"
    ).rows() == [
        ("5554555444", "1", 800.0, 450.0, 300.0, "94060555410000"),
        ("8765432112", "1", 1200.0, 495.0, 600.0, "94077799230000"),
    ]
    assert r.claims["payer_name"].unique().to_list() == ["RUSHMORE LIFE"]
    assert str(r.facts["production_date"]) == "2002-03-14"
    assert r.lines.select("procedure_code", "charge", "paid", "units").rows() == [
        ("99211", 800.0, 500.0, 1.0),
        ("93555", 1200.0, 550.0, 1.0),
    ]
    # DTM*150 (period start) stands in for a missing DTM*472
    assert [str(d) for d in r.lines["service_date"]] == ["2002-03-01", "2002-03-10"]
    # claim-level CAS (no line) and line-level CAS, in file order
    assert r.adjustments.with_columns(pl.col("line_pos").is_null().alias("claim_level")).select(
        "group", "carc", "amount", "claim_level"
    ).rows() == [
        ("CO", "A2", 50.0, True),
        ("PR", "1", 300.0, False),
        ("CO", "A2", 55.0, True),
        ("PR", "1", 600.0, False),
        ("CO", "45", 50.0, False),
    ]


def test_denied_claim_with_remark_codes_and_several_lines():
    # pyx12: CLP02 4 (denied), CO-16 with LQ*HE N14 on the first of three T1005 lines
    r = read_835(X12 / "pyx12" / "835_mult_loops.txt")
    assert r.claims.select("claim_id", "status", "paid").rows() == [("2005555A", "4", 0.0)]
    assert r.lines.select("procedure_code", "units", "remarks").rows() == [
        ("T1005", 68.0, "N14"),
        ("T1005", 16.0, "N14"),
        ("T1005", 36.0, "N14"),
    ]
    assert r.adjustments.select("group", "carc").rows() == [
        ("CO", "16"),
        ("OA", "A7"),
        ("OA", "A7"),
    ]


def test_plb_is_counted_not_attributed_and_moa_remarks_are_kept():
    r = read_835(X12 / "linuxforhealth" / "medicare-part-a.835")
    assert r.facts["plb_adjustments"] == 1 and r.facts["plb_amount"] == pytest.approx(-1.27)
    assert r.plb.select("reason", "amount").rows() == [("CV", -1.27)]
    assert r.claims.select("claim_id", "payer_id", "remarks").rows() == [
        ("666123", "999", None),
        ("777777", "999", "MA02"),
    ]
    assert r.lines.is_empty()  # institutional claims without service lines


def test_svc_composite_with_a_foreign_separator_is_a_problem_row_not_a_guess():
    # the LinuxForHealth sample writes SVC01 as HC>12345>26 while ISA16 is ':'
    r = read_835(X12 / "linuxforhealth" / "secondary-payment.835")
    assert r.lines["procedure_code"].null_count() == 2
    assert r.problems["pos"].to_list() == [29, 34]
    assert "component separator" in r.problems["problem"][0]
    # two triplets in one CAS: PR-1 150.00 and PR-2 70.00
    assert r.adjustments.filter(pl.col("group") == "PR").select("carc", "amount").rows() == [
        ("1", 150.0),
        ("2", 70.0),
    ]


def test_real_deidentified_remittance_with_its_denial_mix(tmp_path):
    r = read_835(restored_version(tmp_path))
    assert (r.facts["claims"], r.facts["lines"], r.facts["transaction_sets"]) == (375, 1552, 6)
    assert r.facts["plb_adjustments"] == 1
    assert r.claims["status"].value_counts().sort("status").rows() == [
        ("1", 73),
        ("19", 292),
        ("2", 1),
        ("22", 8),  # reversals of earlier payments
        ("4", 1),
    ]
    co = r.adjustments.filter(pl.col("group") == "CO").group_by("carc").len()
    assert dict(co.rows()) == {
        "45": 1487,
        "97": 14,
        "96": 6,
        "50": 6,
        "4": 1,
        "16": 1,
        "151": 1,
        "107": 1,
        "59": 1,
    }
    assert r.lines["control_number"].null_count() == 0  # every line has REF*6R
    assert r.lines["service_date"].null_count() == 0


def test_5010_remittance_with_bom_and_three_transaction_sets():
    r = read_835(X12 / "oopfactory" / "835_5010_ExampleFromNth.txt")
    assert (r.facts["claims"], r.facts["lines"], r.facts["transaction_sets"]) == (56, 91, 3)
    assert r.claims["claim_id"].null_count() == 0


@pytest.mark.parametrize(
    ("folder", "name", "reason", "says"),
    [
        ("linuxforhealth", "demo.837", "wrong_transaction", "claim batch (837)"),
        ("imsweb", "x12_999_rejected.txt", "wrong_transaction", "(999)"),
        ("oopfactory", "835_4010_Example1_GripElements.txt", "wrong_version", "4010"),
        ("oopfactory", "835_5010_Example1.txt", "wrong_version", "version 5010"),
        ("oopfactory", "835_4010_FromNth_835_DeIdent_02.dat", "wrong_version", "999999X999X9"),
        ("oopfactory", "837P_5010_UnicodeExample.txt", "bad_encoding", "UTF-16"),
    ],
)
def test_wrong_files_are_refused_with_a_reason(folder, name, reason, says):
    with pytest.raises(ExtractError) as caught:
        read_835(X12 / folder / name)
    assert caught.value.reason == reason
    assert says in caught.value.problem
    assert "835" in str(caught.value) or reason == "bad_encoding"


def test_a_truncated_remittance_is_refused(tmp_path):
    text = (X12 / "pyx12" / "835_mult_loops.txt").read_text()
    cut = tmp_path / "cut.835"
    cut.write_text(text[: text.index("SE*")])
    with pytest.raises(ExtractError) as caught:
        read_835(cut)
    assert caught.value.reason == "truncated"
    no_se = tmp_path / "no_se.835"
    no_se.write_text(text.replace("SE*31*0001~", ""))
    with pytest.raises(ExtractError) as caught:
        read_835(no_se)
    assert caught.value.reason == "truncated" and "no SE trailer" in caught.value.problem


def test_newlines_bom_and_block_cuts_do_not_change_what_is_read(tmp_path, monkeypatch):
    source = restored_version(tmp_path)
    whole = read_835(source)
    text = source.read_bytes().replace(b"\r", b"").replace(b"\n", b"")
    variants = {
        "crlf.835": text.replace(b"~", b"~\r\n"),
        "cr.835": text.replace(b"~", b"~\r"),
        "bom.835": codecs.BOM_UTF8 + text,
    }
    monkeypatch.setattr(x12, "BLOCK_BYTES", 4096)  # about a hundred blocks, loops cut anywhere
    for name, data in variants.items():
        (tmp_path / name).write_bytes(data)
        r = read_835(tmp_path / name)
        for table in ("claims", "lines", "adjustments"):
            assert getattr(r, table).equals(getattr(whole, table)), (name, table)


def test_patient_names_and_member_ids_are_never_read():
    for path in (X12 / "linuxforhealth").glob("*.835"):
        text = every_text(read_835(path))
        for secret in (
            "BUDD",
            "WILLIAM",
            "SETTLE",
            "33344555510",
            "TOWNSEND",
            "BURCK",
            "987654321",
        ):
            assert not any(secret in v for v in text), (path.name, secret)
