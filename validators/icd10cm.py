"""ICD-10-CM, one lookup table per fiscal year, derived from the CMS/CDC tabular.

Each fiscal year (October 1 to September 30) has its own code table and Excludes1 references,
`rules/codesets/icd10cm_fyYYYY.parquet` and `icd10cm_excludes1_fyYYYY.parquet`, listed in
`rules/codesets/index.yaml` with the dates they are in force. A claim is judged by the table in
force on its service date (`cleanclaim.validators.codesets.Icd10cmEditions`).

Parsing a tabular XML costs 2-3 s, so the tables are built once and runs read the Parquet in
milliseconds. Where each shipped table comes from, reproducibly:

- FY2026: `python -m cleanclaim.validators.icd10cm` reads the tabular of the installed `simple-icd-10-cm`
  (pinned 1.5.0: the April 1 2026 update); `tests/test_icd10cm.py` rebuilds it and compares.
- FY2025: `pip download --no-deps simple-icd-10-cm==1.4.0 -d DIR`, then
  `python -m cleanclaim.validators.icd10cm --wheel DIR/simple_icd_10_cm-1.4.0-py3-none-any.whl` reads that
  wheel's April 2025 tabular and code list (the parser is the pinned package's).
- FY2027 and later: `cleanclaim codesets import icd10cm_order_2027.txt icd10cm_tabular_2027.xml`
  (or `python -m cleanclaim.validators.icd10cm --tabular XML --order TXT`) reads CMS's release files: the
  order file of "Code Descriptions in Tabular Order" and the tabular XML of "Code Tables and Index".

Everything in a table is read from the tabular, nothing is typed by hand: billable (leaf) or
header, the billable codes under a header, the 7th-character convention, Excludes1 notes,
manifestations (a code-first note with a "classified elsewhere" title), the sex a code's own or
its ancestors' title names, and the side named in a title when its siblings carry right/left.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import polars as pl
import yaml

from cleanclaim.validators.codesets import ICD10CM, ICD10CM_EXCLUDES1, default_rules_dir
from cleanclaim.validators.errors import ExtractError

SUGGEST_MAX = 8  # billable codes named in a fix; "and N more" beyond

_REF = re.compile(r"\(([^()]*\d[^()]*)\)")
_CODE = r"[A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?"
_RANGE = re.compile(rf"^({_CODE})\.?-?\s*-\s*({_CODE})\.?-?$")
_SINGLE = re.compile(rf"^({_CODE})\.?-?$")
_WORD_FEMALE = re.compile(r"\bfemale\b", re.I)
_WORD_MALE = re.compile(r"\bmale\b", re.I)
_ELSEWHERE = "classified elsewhere"
# CMS order file, "Code Descriptions in Tabular Order": order number (5), code (7, no dot),
# 0 header / 1 valid for HIPAA, short and long descriptions; fields separated by one blank.
_ORDER_LINE = re.compile(r"^\d{5} ([A-Z0-9]{3,7})\s*([01]) ")
_VERSION = re.compile(rb"<version>\s*(\d{4})\s*</version>")

SCHEMA = {
    "code": pl.String,
    "bare": pl.String,
    "billable": pl.Boolean,
    "description": pl.String,
    "chapter": pl.String,
    "needs_seventh": pl.Boolean,
    "billable_under": pl.String,
    "manifestation": pl.Boolean,
    "code_first": pl.String,
    "sex": pl.String,
    "side": pl.String,
}


def bare(code: str) -> str:
    return code.replace(".", "")


def table_file(year: int) -> str:
    return f"icd10cm_fy{year}.parquet"


def excludes1_file(year: int) -> str:
    return f"icd10cm_excludes1_fy{year}.parquet"


def excludes1_refs(note: str) -> list[tuple[str, str]]:
    """'radiculopathy with lumbar ... disorder (M51.1-)' -> [("M511", "M511")]; ranges -> (lo, hi)."""
    refs = []
    for group in _REF.findall(note):
        for item in (part.strip() for part in group.split(",")):
            if m := _RANGE.match(item):
                refs.append((bare(m.group(1)), bare(m.group(2))))
            elif m := _SINGLE.match(item):
                refs.append((bare(m.group(1)),) * 2)
    return refs


def title_sex(title: str) -> str | None:
    """ "F" or "M" when a title names one sex; "both" for "(female) (male)"; None when neither."""
    female, male = bool(_WORD_FEMALE.search(title)), bool(_WORD_MALE.search(title))
    return "both" if female and male else "F" if female else "M" if male else None


def code_sex(titles: list[str], chapter: str) -> str | None:
    """The sex named by the nearest title that names one (the code's own first): a title naming both
    ends the search with none, so "Stress incontinence (female) (male)" fits either sex."""
    if chapter == "15":  # pregnancy, childbirth and the puerperium
        return "F"
    for title in titles:
        if sex := title_sex(title):
            return None if sex == "both" else sex
    return None


def tabular_year(xml: Path) -> int:
    """The fiscal year a tabular XML is for: its <version> element (2025 = FY2025)."""
    with xml.open("rb") as f:
        head = f.read(4096)
    if m := _VERSION.search(head):
        return int(m.group(1))
    raise ExtractError(
        str(xml),
        "no <version> element near the start: not an ICD-10-CM tabular XML",
        "Give the icd10cm_tabular_YYYY.xml file of CMS's Code Tables and Index archive.",
        reason="not_icd10cm_tabular",
    )


def read_order_codes(path: Path) -> list[str]:
    """The codes (no dot) of a CMS order file, icd10cm_order_YYYY.txt, headers included."""
    codes = [
        m.group(1)
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        if (m := _ORDER_LINE.match(line))
    ]
    if not codes:
        raise ExtractError(
            str(path),
            "no line in the CMS order-file layout (order number, code, 0/1 header flag)",
            "Give the icd10cm_order_YYYY.txt file of CMS's Code Descriptions in Tabular Order.",
            reason="not_icd10cm_order",
        )
    return codes


@contextmanager
def _tabular(xml: Path | None, codes: list[str] | None) -> Iterator:
    """The simple_icd_10_cm module loaded with `xml` and its code list (the package's own when none),
    restored to the package's data afterwards."""
    import simple_icd_10_cm as cm  # 2-3 s: parses the XML

    if xml is None:
        yield cm
        return
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "codes.txt"
        listing.write_text("\n".join(codes or []), encoding="utf-8")
        cm.change_version(str(listing), str(xml), suppress_warnings=True)
        try:
            yield cm
        finally:
            cm.change_version()


def build(
    xml: Path | None = None, codes: list[str] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(code table, Excludes1 references) from a tabular XML and its code list (every code of the
    release, no dots needed), or from the installed package's tabular when none is given."""
    with _tabular(xml, codes) as cm:
        return _build(cm)


def _build(cm) -> tuple[pl.DataFrame, pl.DataFrame]:
    rows, excl = [], []
    items = cm.get_all_codes(with_dots=True)
    codes = [c for c in items if not cm.is_chapter_or_block(c)]
    leaf = {c: cm.is_leaf(c) for c in codes}
    parent = {c: cm.get_parent(c) for c in codes}
    description = {c: cm.get_description(c) for c in items}
    siblings: dict[str, list[str]] = {}
    for c in codes:
        siblings.setdefault(parent[c], []).append(c)
    for code in codes:
        ancestors = cm.get_ancestors(code)
        lineage = [code, *ancestors]
        chapter = ancestors[-1] if ancestors else code
        own = description[code]
        side = None
        if re.search(r"\bbilateral\b", own, re.I):
            side = "bilateral"
        elif re.search(r"\bright\b", own, re.I):
            side = "right"
        elif re.search(r"\bleft\b", own, re.I):
            side = "left"
        elif re.search(r"\bunspecified\b", own, re.I) and any(
            re.search(r"\b(right|left)\b", description[s], re.I)
            for s in siblings[parent[code]]
            if s != code
        ):
            side = "unspecified"
        billable_under: list[str] = []
        if not leaf[code]:
            billable_under = [d for d in cm.get_descendants(code) if leaf.get(d)]
        needs_seventh = (not leaf[code]) and any(
            cm.get_seven_chr_def(a) for a in lineage if not cm.is_chapter_or_block(a)
        )
        # A manifestation: the tabular tells the coder to code the underlying condition first, and
        # the title (the code's or its category's) says the disease is classified elsewhere
        # ("in diseases", "in other diseases": F02.8-). A code-first note alone also sits on
        # etiology codes that may be listed first (E08, T36-T50).
        code_first = cm.get_code_first(code, search_in_ancestors=True)
        manifestation = bool(code_first) and any(
            _ELSEWHERE in description[a].lower()
            for a in lineage[:3]
            if not cm.is_chapter_or_block(a)
        )
        rows.append(
            {
                "code": code,
                "bare": bare(code),
                "billable": leaf[code],
                "description": own,
                "chapter": chapter,
                "needs_seventh": needs_seventh,
                "billable_under": ", ".join(billable_under[:SUGGEST_MAX])
                + (
                    f" and {len(billable_under) - SUGGEST_MAX} more"
                    if len(billable_under) > SUGGEST_MAX
                    else ""
                ),
                "manifestation": manifestation,
                "code_first": " ".join(code_first.split()) if manifestation else None,
                "sex": code_sex([description[a] for a in lineage], chapter),
                "side": side,
            }
        )
        for note in cm.get_excludes1(code):
            for lo, hi in excludes1_refs(note):
                excl.append(
                    {"owner": bare(code), "lo": lo, "hi": hi, "note": note.replace("\n", " ")}
                )
    table = pl.DataFrame(rows, schema=SCHEMA).sort("bare")
    excludes = (
        pl.DataFrame(
            excl, schema={"owner": pl.String, "lo": pl.String, "hi": pl.String, "note": pl.String}
        )
        .unique()
        .sort("owner", "lo", "hi", "note")
    )
    return table, excludes


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def index_entries(year: int, source: str, version: str) -> dict[str, dict]:
    """The index.yaml entries of one fiscal year's two tables (in force October 1 to September 30)."""
    window = {"effective_from": date(year - 1, 10, 1), "valid_to": date(year, 9, 30)}
    return {
        f"{ICD10CM}_fy{year}": {
            "file": table_file(year),
            "key": "bare",
            "family": ICD10CM,
            "title": f"ICD-10-CM FY{year} codes with billable status, 7th-character need, sex, "
            "side, manifestation and code-first flags",
            "source": source,
            "version": version,
            **window,
        },
        f"{ICD10CM_EXCLUDES1}_fy{year}": {
            "file": excludes1_file(year),
            "key": "owner",
            "family": ICD10CM_EXCLUDES1,
            "title": f"ICD-10-CM FY{year} Excludes1 notes as code references (owner code or "
            "category -> excluded code or range)",
            "source": f"Excludes1 notes of the same tabular ({source.split(';', maxsplit=1)[0]}), code "
            "references parsed from the note text",
            "version": version,
            **window,
        },
    }


class _NoAliases(yaml.SafeDumper):
    """Each entry spells its dates out (the two tables of a year share them)."""

    def ignore_aliases(self, data) -> bool:
        return True


def _replace_entries(index: Path, entries: dict[str, dict]) -> None:
    """index.yaml with `entries` in place of the ones of the same names (appended when new); the
    rest of the file, comments included, is kept as written."""
    text = index.read_text(encoding="utf-8")
    for name in entries:
        text = re.sub(rf"(?ms)^{re.escape(name)}:\n(?:[ #].*?\n|\n)*", "", text)
    block = yaml.dump(entries, Dumper=_NoAliases, sort_keys=False, allow_unicode=True, width=10_000)
    index.write_text(text.rstrip("\n") + "\n" + block, encoding="utf-8")


def install(
    folder: Path, year: int, table: pl.DataFrame, excludes: pl.DataFrame, source: str, version: str
) -> None:
    """Write one fiscal year's tables into a code-set folder and list them in its index.yaml."""
    for frame, name in ((table, table_file(year)), (excludes, excludes1_file(year))):
        partial = folder / f".{name}.partial"  # a reader never sees half a file
        frame.write_parquet(partial, compression="zstd", compression_level=19)
        os.replace(partial, folder / name)
    _replace_entries(folder / "index.yaml", index_entries(year, source, version))


def import_release(order: Path, xml: Path, folder: Path) -> tuple[int, int]:
    """CMS's yearly release files -> that fiscal year's tables installed. Returns (year, codes)."""
    year = tabular_year(xml)
    table, excludes = build(xml, read_order_codes(order))
    source = (
        f"CMS ICD-10-CM FY{year} release: {xml.name} (sha256 {_sha256(xml)[:16]}) and "
        f"{order.name} (sha256 {_sha256(order)[:16]}); imported by `cleanclaim codesets import`"
    )
    install(folder, year, table, excludes, source, f"FY{year} (CMS release files)")
    return year, table.height


def split_release_files(paths: list[Path]) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """(order file, tabular XML) pairs among `paths`, matched by the year in their names (or the
    only two), and the other paths (left for the NCCI importer)."""
    orders = [p for p in paths if re.match(r"icd10cm_order_.*\.txt$", p.name, re.I)]
    tabulars = [p for p in paths if p.suffix.lower() == ".xml"]
    rest = [p for p in paths if p not in orders and p not in tabulars]

    def year(p: Path) -> str:
        return m.group(1) if (m := re.search(r"(20\d\d)", p.name)) else ""

    pairs = []
    for order in orders:
        match = [t for t in tabulars if year(t) == year(order)]
        if len(match) != 1 and len(orders) == len(tabulars) == 1:
            match = tabulars
        if len(match) != 1:
            raise ExtractError(
                str(order),
                "no tabular XML of the same year was given with this order file",
                "Give each year's icd10cm_order_YYYY.txt and icd10cm_tabular_YYYY.xml together.",
                reason="icd10cm_pair",
            )
        pairs.append((order, match[0]))
    if unpaired := [t for t in tabulars if t not in {x for _, x in pairs}]:
        raise ExtractError(
            str(unpaired[0]),
            "no order file of the same year was given with this tabular XML",
            "Give each year's icd10cm_order_YYYY.txt and icd10cm_tabular_YYYY.xml together.",
            reason="icd10cm_pair",
        )
    return pairs, rest


def _wheel_data(wheel: Path, tmp: Path) -> tuple[Path, list[str], str]:
    """The tabular XML (extracted into tmp), code list and version of a simple-icd-10-cm wheel."""
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        xml_name = next(n for n in names if n.startswith("simple_icd_10_cm/data/") and ".xml" in n)
        list_name = next(n for n in names if n.startswith("simple_icd_10_cm/data/code-list"))
        xml = tmp / Path(xml_name).name
        xml.write_bytes(z.read(xml_name))
        codes = [
            line.split(" ")[0] for line in z.read(list_name).decode("utf-8").splitlines() if line
        ]
    version = wheel.name.split("-")[1]
    return xml, codes, f"{Path(xml_name).name} and {Path(list_name).name}, version {version}"


def main(argv: list[str] | None = None) -> None:
    from importlib.metadata import version as package_version

    parser = argparse.ArgumentParser(
        prog="python -m cleanclaim.validators.icd10cm",
        description="Build one fiscal year's ICD-10-CM tables into rules/codesets/ and list them "
        "in its index.yaml. Without options: the installed simple-icd-10-cm's tabular.",
    )
    parser.add_argument("--wheel", type=Path, help="a simple-icd-10-cm wheel: its tabular and list")
    parser.add_argument("--tabular", type=Path, help="CMS icd10cm_tabular_YYYY.xml (with --order)")
    parser.add_argument("--order", type=Path, help="CMS icd10cm_order_YYYY.txt (with --tabular)")
    parser.add_argument("--rules", type=Path, default=None, help="rules folder (default: bundled)")
    args = parser.parse_args(argv)
    folder = (args.rules or default_rules_dir()) / "codesets"
    parser_version = package_version("simple-icd-10-cm")
    if args.tabular or args.order:
        if not (args.tabular and args.order):
            parser.error("--tabular and --order go together")
        year, count = import_release(args.order, args.tabular, folder)
        print(f"wrote FY{year}: {count:,} codes to {folder}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.wheel:
            xml, codes, files = _wheel_data(args.wheel, Path(tmp))
            how = f"--wheel {args.wheel.name}"
        else:
            import simple_icd_10_cm as cm

            xml, codes = None, None
            data = Path(cm.__file__).parent / "data"
            files = (
                f"{next(data.glob('*.xml')).name} and {next(data.glob('code-list*')).name}, "
                f"version {parser_version}"
            )
            how = ""
        year = tabular_year(xml or next(data.glob("*.xml")))
        table, excludes = build(xml, codes)
    command = f"python -m cleanclaim.validators.icd10cm {how}".strip()
    source = (
        f"CDC/CMS ICD-10-CM tabular for FY{year} as shipped in PyPI simple-icd-10-cm ({files}); "
        f"derived by `{command}` with simple-icd-10-cm {parser_version}'s "
        "parser"
    )
    update = re.search(r"April-(?:1-)?(\d{4})", files)
    label = f"FY{year} (April 1, {update.group(1)} update)" if update else f"FY{year}"
    install(folder, year, table, excludes, source, label)
    print(
        f"wrote FY{year}: {len(table):,} codes ({table['billable'].sum():,} billable) and "
        f"{len(excludes):,} Excludes1 references to {folder}"
    )


if __name__ == "__main__":
    main()
