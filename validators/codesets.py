"""Reference code sets shipped as data in `rules/codesets/` (index.yaml says source and dates)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from pathlib import Path

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from cleanclaim.validators.errors import RuleConfigError

# The yearly ICD-10-CM tables are code sets of these families (one per fiscal year, index.yaml);
# the family's name alone is the newest year's table, for what needs no date (synthetic claims).
ICD10CM = "icd10cm"
ICD10CM_EXCLUDES1 = "icd10cm_excludes1"

# libyaml's safe loader when the wheel has it: the rule files load 5x faster (ad-hoc runs feel it).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)


def default_rules_dir() -> Path:
    """`rules/` beside the packages (the repo checkout), or CLEANCLAIM_RULES."""
    return Path(os.environ.get("CLEANCLAIM_RULES") or Path(__file__).resolve().parents[1] / "rules")


class CodesetInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str
    key: str
    title: str
    source: str
    version: str
    effective_from: date
    valid_to: date | None = (
        None  # last service date the set is meant for (a code set's fiscal year)
    )
    family: str | None = None  # one year of a yearly code set (ICD10CM, ICD10CM_EXCLUDES1)


@dataclass(frozen=True)
class Codeset:
    name: str
    info: CodesetInfo
    table: pl.DataFrame

    def codes(self) -> list[str]:
        return self.table[self.info.key].to_list()

    def wording(self, code: str) -> str | None:
        hit = self.table.filter(pl.col(self.info.key) == code)
        return hit["wording"].item() if hit.height and "wording" in hit.columns else None


def load_codesets(rules_dir: Path | None = None) -> dict[str, Codeset]:
    folder = (rules_dir or default_rules_dir()) / "codesets"
    try:
        index = read_yaml(folder / "index.yaml")
    except (OSError, yaml.YAMLError) as exc:
        raise RuleConfigError(
            f"{folder / 'index.yaml'}: cannot be read ({type(exc).__name__})"
        ) from None
    sets = {}
    for name, entry in index.items():
        try:
            info = CodesetInfo.model_validate(entry)
        except ValidationError as exc:
            raise RuleConfigError(f"codeset {name} in {folder / 'index.yaml'}: {exc}") from None
        path = folder / info.file
        if not path.exists():
            raise RuleConfigError(f"codeset {name}: file {path} does not exist")
        # Codes stay text: POS "01" must not become 1. Derived tables (ICD-10-CM) are Parquet;
        # vocabularies with lists and booleans (documentation elements) are YAML.
        if path.suffix == ".parquet":
            table = pl.read_parquet(path)
        elif path.suffix == ".yaml":
            table = pl.DataFrame(read_yaml(path))
        else:
            table = pl.read_csv(path, infer_schema=False)
        if info.key not in table.columns:
            raise RuleConfigError(f"codeset {name}: {path.name} has no column {info.key!r}")
        sets[name] = Codeset(name, info, table)
    for family in (ICD10CM, ICD10CM_EXCLUDES1):
        years = editions_of(sets, family)
        if not years:
            raise RuleConfigError(f"{folder / 'index.yaml'}: no {family} code set is listed")
        for a, b in pairwise(years):
            if a.info.valid_to is None or a.info.valid_to >= b.info.effective_from:
                raise RuleConfigError(f"codesets {a.name} and {b.name} overlap in time")
        sets[family] = years[-1]
    if [y.info.effective_from for y in editions_of(sets, ICD10CM)] != [
        y.info.effective_from for y in editions_of(sets, ICD10CM_EXCLUDES1)
    ]:
        raise RuleConfigError(f"{folder / 'index.yaml'}: ICD-10-CM years without Excludes1 tables")
    return sets


def editions_of(sets: dict[str, Codeset], family: str) -> list[Codeset]:
    """The years of a yearly code set, oldest first."""
    years = (s for name, s in sets.items() if s.info.family == family and name != family)
    return sorted(years, key=lambda s: s.info.effective_from)


@dataclass(frozen=True)
class Icd10cmEditions:
    """Every ICD-10-CM year shipped or imported, stacked: `table` and `excludes1` carry `_edition`,
    the year's position (oldest 0). A claim is judged by the year in force on its service date."""

    years: list[Codeset]
    table: pl.DataFrame
    excludes1: pl.DataFrame

    @classmethod
    def of(cls, sets: dict[str, Codeset]) -> Icd10cmEditions:
        def stacked(family: str) -> pl.DataFrame:
            return pl.concat(
                [
                    s.table.with_columns(pl.lit(i, dtype=pl.Int16).alias("_edition"))
                    for i, s in enumerate(editions_of(sets, family))
                ],
                how="diagonal_relaxed",
            )

        return cls(editions_of(sets, ICD10CM), stacked(ICD10CM), stacked(ICD10CM_EXCLUDES1))

    @classmethod
    def of_catalog(cls, catalog) -> Icd10cmEditions:
        """The catalog's, stacked once per catalog (Catalog.derived)."""
        return catalog.derived("icd10cm_editions", lambda c: cls.of(c.codesets))

    def used_for(self, service_dates: pl.Series, as_of: date) -> str:
        """Which table judged each fiscal year among the dates, for the Summary: "FY2025: FY2025
        (April 1, 2025 update); FY2027: no table, FY2026 (...) without unknown-code findings".
        Dates after the as-of date are field errors (FLD), not a year that was judged."""
        dates = (
            pl.DataFrame({"d": service_dates}).drop_nulls().unique().filter(pl.col("d") <= as_of)
        )
        years = dates.select(
            (pl.col("d").dt.year() + (pl.col("d").dt.month() >= 10).cast(pl.Int32)).alias("fy"),
            self.edition(pl.col("d")).alias("_edition"),
            self.timing(pl.col("d")).alias("when"),
        ).unique(["fy", "_edition", "when"])
        when, fy = pl.col("when"), pl.col("fy")
        said = (
            years.join(self.facts(), on="_edition")
            .sort("fy", "_edition")
            .select(
                pl.when(when == 0)
                .then(pl.format("FY{}: {}", fy, "release"))
                .when(when > 0)
                .then(
                    pl.format(
                        "FY{}: no table (import CMS's FY{} release); {} without unknown-code "
                        "findings",
                        fy,
                        fy,
                        "release",
                    )
                )
                .otherwise(pl.format("FY{}: no table; validity not judged", fy))
            )
            .to_series()
        )
        return "; ".join(said.to_list()) or "no service dates"

    def edition(self, service_date: pl.Expr) -> pl.Expr:
        """The year whose table judges a claim: the latest that took effect on or before the date
        (the oldest for an earlier date, the newest for an unknown one)."""
        expr = pl.when(service_date.is_null()).then(pl.lit(len(self.years) - 1))
        for i, year in reversed(list(enumerate(self.years))):
            expr = expr.when(service_date >= pl.lit(year.info.effective_from)).then(pl.lit(i))
        return expr.otherwise(pl.lit(0)).cast(pl.Int16)

    def timing(self, service_date: pl.Expr) -> pl.Expr:
        """0 when a table is in force on the date (or the date is unknown), -1 before the oldest
        table, 1 after the year of the table used (a year not imported yet)."""
        first = self.years[0].info.effective_from
        in_force = pl.lit(False)
        for year in self.years:
            end = year.info.valid_to or date.max
            in_force = in_force | service_date.is_between(year.info.effective_from, end)
        return (
            pl.when(service_date.is_null() | in_force)
            .then(0)
            .when(service_date < first)
            .then(-1)
            .otherwise(1)
            .cast(pl.Int8)
        )

    def facts(self) -> pl.DataFrame:
        """_edition, fiscal_year, version, valid_from, valid_to of each year, for messages."""
        return pl.DataFrame(
            {
                "_edition": list(range(len(self.years))),
                "release": [y.info.version for y in self.years],
                "valid_from": [str(y.info.effective_from) for y in self.years],
                "valid_to": [str(y.info.valid_to or "") for y in self.years],
            },
            schema_overrides={"_edition": pl.Int16},
        )


# --------------------------------------------------------------------------- X12 code lists

# A row of the CARC or RARC list as X12 (formerly WPC) publishes it: the code, the wording, and
# its dates ("Start: 01/01/1995 | Last Modified: 09/20/2009 | Stop: 07/01/2009").
_X12_ROW = (
    r'<tr class="prod_set (?<status>\w+)"><td class="code">(?<code>[^<]+)</td>'
    r'<td class="description">(?<wording>.*?)<span class="dates">(?<dates>.*?)</span>'
)


def is_x12_code_list(path: Path) -> bool:
    with path.open("rb") as f:
        return b'<td class="code">' in f.read(65536)


def read_x12_code_list(path: Path) -> pl.DataFrame:
    """code, wording, status (current/deactivated), last_modified and stop of each row of a CARC or
    RARC list saved from X12's page in its published layout."""
    text = path.read_text(encoding="utf-8", errors="replace").replace("\n", " ")
    rows = (
        pl.DataFrame({"row": pl.Series([text]).str.extract_all(_X12_ROW)[0]})
        .select(pl.col("row").str.extract_groups(_X12_ROW))
        .unnest("row")
    )

    def day(label: str) -> pl.Expr:
        return (
            pl.col("dates")
            .str.extract(label + r":\s*(\d\d/\d\d/\d{4})")
            .str.to_date("%m/%d/%Y", strict=False)
        )

    entities = {"&amp;": "&", "&#39;": "'", "&quot;": '"', "&lt;": "<", "&gt;": ">"}
    wording = pl.col("wording").str.replace_all(r"<[^>]+>", "").str.replace_all(r"\s+", " ")
    for entity, char in entities.items():
        wording = wording.str.replace_all(entity, char, literal=True)
    return rows.select(
        pl.col("code").str.strip_chars(),
        wording.str.strip_chars().alias("wording"),
        "status",
        pl.coalesce(day("Last Modified"), day("Start")).alias("last_modified"),
        day("Stop").alias("stop"),
    )


def import_x12_code_list(path: Path, folder: Path) -> tuple[str, int]:
    """The shipped CARC or RARC subset's wording replaced by the list's, each row marked with the
    list's date; codes the list does not hold keep their wording and mark. Returns (set, rows)."""
    listed = read_x12_code_list(path)
    if listed.is_empty():
        raise RuleConfigError(f"{path.name}: no code rows in X12's published code-list layout")
    name = "rarc" if listed["code"].str.contains(r"^(M|N|MA)\d").mean() > 0.5 else "carc"
    target = folder / f"{name}.csv"
    shipped = pl.read_csv(target, infer_schema=False)
    as_of = listed["last_modified"].max()
    found = listed.select(
        "code",
        pl.col("wording").alias("_wording"),
        pl.format(
            "X12 {} list {} (last modified {})",
            pl.lit(name.upper()),
            pl.lit(path.name),
            pl.lit(str(as_of)),
        ).alias("_source"),
        pl.when(pl.col("stop").is_not_null())
        .then(pl.format("X12 list; stopped {}", pl.col("stop").dt.to_string("%Y-%m-%d")))
        .otherwise(pl.lit("X12 list"))
        .alias("_verified"),
    )
    updated = shipped.join(found, on="code", how="left").select(
        "code",
        pl.coalesce("_wording", "wording").alias("wording"),
        pl.coalesce("_source", "source").alias("source"),
        pl.coalesce("_verified", "verified").alias("verified"),
    )
    updated.write_csv(target)
    index = folder / "index.yaml"
    text = index.read_text(encoding="utf-8")
    block = re.search(rf"(?ms)^{name}:\n(?:[ #].*?\n)*", text)
    if block:  # the set's version names the list's date; the rest of index.yaml stays as written
        entry = re.sub(r"(?m)^  version: .*$", f'  version: "X12 list of {as_of}"', block.group(0))
        index.write_text(text.replace(block.group(0), entry), encoding="utf-8")
    return name, updated.filter(pl.col("code").is_in(found["code"].implode())).height
