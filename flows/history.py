"""The run history: OUT/.cleanclaim/history.duckdb, beside the reports it describes.

What it keeps, per nightly run and per validated file (by content hash): the run's counts, each
file's claims (status, score, dollars), its findings (rule, severity, line, dollars -- never the
message, which quotes claim values) and the lines the duplicate and frequency rules need from
earlier runs (validators/engine.py HISTORY_COLUMNS). Never note text, names or dates of birth; but
patient ids with service dates and procedures are PHI, so OUT/.cleanclaim/ (the history, the rows
staged for it, the ledger) is readable by its owner only (`private_folder`, the database file 0600),
and a file's rows are purged once it was validated more than the configuration's
`history_retention_months` ago (`purge`, at the start of each run).

Who writes it: only the flow, in its own process, while it holds the inbox lock -- DuckDB takes
one writing process per file, and a file's work may run in another process (a Dask worker). A task
leaves its file's rows in OUT/.cleanclaim/pending/SHA/ (Parquet, renamed into place whole) before
the file is recorded as done; the flow ingests pending folders at the start and the end of each
run, replacing any rows of the same hash, so a crash anywhere leaves nothing lost or doubled.

Frames cross into and out of DuckDB as Parquet files: the Arrow route needs pyarrow (not a
dependency) and DuckDB 2.0's capsule route prints reference-leak warnings at interpreter exit.
"""

from __future__ import annotations

import calendar
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

from cleanclaim.validators.decisions import DECISION_SCHEMA
from cleanclaim.validators.engine import HISTORY_COLUMNS, history_rows

# Lines the rules look back over: a 12-month frequency window ending at a service date that may
# itself be up to a year before the run (late charges), so two years of history.
LOOKBACK_DAYS = 730
TREND_RUNS = 30

_SQL_TYPES = {
    pl.String: "VARCHAR",
    pl.Int64: "BIGINT",
    pl.Float64: "DOUBLE",
    pl.Date: "DATE",
    pl.Boolean: "BOOLEAN",
    pl.Datetime: "TIMESTAMP",
}

# What each per-file table keeps, taken from the run's frames by these names and types.
FILE_TABLES: dict[str, dict[str, pl.DataType]] = {
    "lines": HISTORY_COLUMNS,
    "claims": {
        "claim_id": pl.String,
        "status": pl.String,
        "score": pl.Float64,
        "lines": pl.Int64,
        "billed": pl.Float64,
        "at_risk": pl.Float64,
    },
    "findings": {
        "claim_id": pl.String,
        "line_number": pl.Int64,
        "rule_id": pl.String,
        "category": pl.String,
        "severity": pl.String,
        "charge_at_risk": pl.Float64,
    },
}
RUN_COLUMNS: dict[str, pl.DataType] = {
    "run_id": pl.String,
    "as_of": pl.Date,
    "started": pl.Datetime,
    "seconds": pl.Float64,
    "files": pl.Int64,
    "validated": pl.Int64,
    "quarantined": pl.Int64,
    "already_processed": pl.Int64,
    "failed": pl.Int64,
    "claims": pl.Int64,
    "hold": pl.Int64,
    "review": pl.Int64,
    "clean": pl.Int64,
    "findings": pl.Int64,
    "billed": pl.Float64,
    "at_risk": pl.Float64,
}
FILE_COLUMNS: dict[str, pl.DataType] = {
    "sha256": pl.String,
    "file": pl.String,
    "run_id": pl.String,
    "as_of": pl.Date,
    "claims": pl.Int64,
    "findings": pl.Int64,
}


# Remittances (flows/remits.py, flows/outcomes.py), per 835 file by content hash: what the payer
# answered. Append-only: a new ERA adds rows; the same ERA read again replaces only its own.
REMIT_TABLES: dict[str, dict[str, pl.DataType]] = {
    "remit_claims": {
        "claim_pos": pl.Int64,
        "claim_id": pl.String,
        "status": pl.String,
        "charge": pl.Float64,
        "paid": pl.Float64,
        "patient_responsibility": pl.Float64,
        "payer_claim_control": pl.String,
        "payer_id": pl.String,
        "payer_name": pl.String,
        "production_date": pl.Date,
        "remarks": pl.String,
    },
    "remit_lines": {
        "line_pos": pl.Int64,
        "claim_pos": pl.Int64,
        "procedure_code": pl.String,
        "modifier_1": pl.String,
        "modifier_2": pl.String,
        "modifier_3": pl.String,
        "modifier_4": pl.String,
        "charge": pl.Float64,
        "paid": pl.Float64,
        "units": pl.Float64,
        "service_date": pl.Date,
        "control_number": pl.String,
        "remarks": pl.String,
    },
    "remit_adjustments": {
        "claim_pos": pl.Int64,
        "line_pos": pl.Int64,
        "group": pl.String,
        "carc": pl.String,
        "amount": pl.Float64,
        "quantity": pl.Float64,
    },
}
REMIT_FILE_COLUMNS: dict[str, pl.DataType] = {
    "sha256": pl.String,
    "file": pl.String,
    "production_date": pl.Date,
    "read_at": pl.Datetime,
    "claims": pl.Int64,
    "lines": pl.Int64,
    "plb_adjustments": pl.Int64,
    "plb_amount": pl.Float64,
}
# One row per production date and rule (the rule-outcomes file), and per production date (Trend).
REMIT_OUTCOME_COLUMNS: dict[str, pl.DataType] = {
    "production_date": pl.Date,
    "rule_id": pl.String,
    "flagged_claims": pl.Int64,
    "remitted": pl.Int64,
    "denied": pl.Int64,
    "denied_with_rule_carc": pl.Int64,
    "paid": pl.Int64,
    "precision": pl.Float64,
}
REMIT_DAY_COLUMNS: dict[str, pl.DataType] = {
    "production_date": pl.Date,
    "files": pl.Int64,
    "claims": pl.Int64,
    "linked": pl.Int64,
    "denied": pl.Int64,
    "predicted": pl.Int64,
    "unexplained": pl.Int64,
    "denied_dollars": pl.Float64,
}


def private_folder(folder: Path) -> Path:
    """A folder of PHI: created, or narrowed if an older version made it, to its owner (0700)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    return folder


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier (the month's last day when it is shorter)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


# The decisions analysts recorded in saved workbooks (flows/decisions.py): an audit trail that is
# only ever appended to -- this module has no statement that updates or deletes a decision.
DECISION_COLUMNS: dict[str, pl.DataType] = {
    "seq": pl.Int64,
    "finding_key": pl.String,
    "status": pl.String,
    "reason": pl.String,
    "owner": pl.String,
    "author": pl.String,  # the workbook's last-modified-by
    "decided_at": pl.Datetime("us"),  # when the workbook was saved
    "recorded_at": pl.Datetime("us"),
    "workbook": pl.String,  # its file name
    "workbook_sha256": pl.String,
}
WORKBOOK_COLUMNS: dict[str, pl.DataType] = {
    "sha256": pl.String,
    "workbook": pl.String,
    "imported_at": pl.Datetime("us"),
    "decisions": pl.Int64,
}


def _ddl(table: str, columns: dict[str, pl.DataType], key: str | None = None) -> str:
    cols = ", ".join(f'"{c}" {_SQL_TYPES[t.base_type()]}' for c, t in columns.items())
    return f"CREATE TABLE IF NOT EXISTS {table} ({cols}{f', PRIMARY KEY ({key})' if key else ''})"


class History:
    def __init__(self, out: Path):
        self.folder = Path(out) / ".cleanclaim"
        self.path = self.folder / "history.duckdb"
        self.pending = self.folder / "pending"
        # the latest decisions, left by flows/decisions.py refresh for the night's writers (a
        # Parquet file: a Dask worker reads it without opening the database)
        self.snapshot = self.folder / "decisions.parquet"

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        private_folder(self.folder)
        with duckdb.connect(str(self.path)) as con:
            self.path.chmod(0o600)
            con.execute(_ddl("runs", RUN_COLUMNS, "run_id"))
            con.execute(_ddl("files", FILE_COLUMNS, "sha256"))
            for table, columns in FILE_TABLES.items():
                con.execute(_ddl(table, {"sha256": pl.String, **columns}))
            con.execute(_ddl("decisions", DECISION_COLUMNS, "seq"))
            con.execute(_ddl("decision_workbooks", WORKBOOK_COLUMNS, "sha256"))
            yield con

    def _query(self, con: duckdb.DuckDBPyConnection, sql: str, params: list) -> pl.DataFrame:
        with tempfile.TemporaryDirectory(dir=self.folder) as scratch:
            target = Path(scratch) / "result.parquet"
            con.execute(f"COPY ({sql}) TO '{target}' (FORMAT parquet)", params)
            return pl.read_parquet(target)

    # ---------------------------------------------------------------- written by a file's task

    def stage(
        self,
        sha256: str,
        meta: dict,
        lines: pl.DataFrame,
        claims: pl.DataFrame,
        findings: pl.DataFrame,
    ) -> Path:
        """Leave one validated file's rows for the flow to ingest (whole or not at all)."""
        private_folder(self.folder)
        self.pending.mkdir(exist_ok=True)
        final = self.pending / sha256
        scratch = Path(tempfile.mkdtemp(dir=self.pending, prefix=f".{sha256[:12]}-"))
        frames = {"lines": history_rows(lines), "claims": claims, "findings": findings}
        for table, columns in FILE_TABLES.items():
            typed = frames[table].select(pl.col(c).cast(t) for c, t in columns.items())
            typed.write_parquet(scratch / f"{table}.parquet")
        (scratch / "file.json").write_text(json.dumps({"sha256": sha256, **meta}))
        shutil.rmtree(final, ignore_errors=True)  # an earlier attempt's rows for the same content
        os.replace(scratch, final)
        return final

    # ---------------------------------------------------------------- written by the flow

    def ingest(self) -> int:
        """Move every staged file into the database (replacing rows of the same hash); returns how many."""
        staged = (
            sorted(p for p in self.pending.glob("*") if p.is_dir() and not p.name.startswith("."))
            if self.pending.exists()
            else []
        )
        if not staged:
            return 0
        with self._connect() as con:
            for folder in staged:
                meta = json.loads((folder / "file.json").read_text())
                sha = meta["sha256"]
                con.execute("BEGIN TRANSACTION")
                for table in ("files", *FILE_TABLES):
                    con.execute(f"DELETE FROM {table} WHERE sha256 = ?", [sha])
                con.execute(
                    "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        sha,
                        meta["file"],
                        meta["run_id"],
                        meta["as_of"],
                        meta["claims"],
                        meta["findings"],
                    ],
                )
                for table, columns in FILE_TABLES.items():
                    names = ", ".join(f'"{c}"' for c in columns)
                    con.execute(
                        f'INSERT INTO {table} ("sha256", {names}) SELECT ?, {names} FROM read_parquet(?)',
                        [sha, str(folder / f"{table}.parquet")],
                    )
                con.execute("COMMIT")
                shutil.rmtree(folder)  # after the commit: a crash in between only ingests it again
        return len(staged)

    def purge(self, as_of: date, months: int) -> int:
        """Forget the files validated more than `months` before `as_of` (their lines, claims and
        findings) and the runs of those days, then checkpoint so the rows leave the file; returns
        how many files were purged."""
        if not self.path.exists():
            return 0
        cutoff = months_before(as_of, months)
        with self._connect() as con:
            (old,) = con.execute("SELECT count(*) FROM files WHERE as_of < ?", [cutoff]).fetchone()
            con.execute("BEGIN TRANSACTION")
            for table in FILE_TABLES:
                con.execute(
                    f"DELETE FROM {table} WHERE sha256 IN (SELECT sha256 FROM files WHERE as_of < ?)",
                    [cutoff],
                )
            con.execute("DELETE FROM files WHERE as_of < ?", [cutoff])
            con.execute("DELETE FROM runs WHERE as_of < ?", [cutoff])
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        return old

    def record_run(self, row: dict) -> None:
        with self._connect() as con:
            con.execute(
                f"INSERT OR REPLACE INTO runs VALUES ({', '.join('?' * len(RUN_COLUMNS))})",
                [row[c] for c in RUN_COLUMNS],
            )

    def record_decisions(self, decided: pl.DataFrame, workbook: str, sha256: str) -> int:
        """Append `decided` (DECISION_COLUMNS but `seq` and the workbook's) to the audit trail and
        remember the workbook's content as read, in one transaction; returns the rows added. A
        workbook already read adds nothing."""
        with self._connect() as con:
            if con.execute(
                "SELECT 1 FROM decision_workbooks WHERE sha256 = ?", [sha256]
            ).fetchone():
                return 0
            with tempfile.TemporaryDirectory(dir=self.folder) as scratch:
                rows = Path(scratch) / "decisions.parquet"
                decided.select(
                    pl.col(c).cast(t)
                    for c, t in DECISION_COLUMNS.items()
                    if c not in ("seq", "workbook", "workbook_sha256")
                ).write_parquet(rows)
                names = [c for c in DECISION_COLUMNS if c not in ("seq",)]
                quoted = ", ".join(f'"{c}"' for c in names)
                con.execute("BEGIN TRANSACTION")
                (start,) = con.execute("SELECT coalesce(max(seq), 0) FROM decisions").fetchone()
                con.execute(
                    f'INSERT INTO decisions ("seq", {quoted}) SELECT ? + row_number() OVER (), '
                    f"{', '.join(f'{c}' for c in names[:-2])}, ?, ? FROM read_parquet(?)",
                    [start, workbook, sha256, str(rows)],
                )
                con.execute(
                    "INSERT INTO decision_workbooks VALUES (?, ?, now()::TIMESTAMP, ?)",
                    [sha256, workbook, decided.height],
                )
                con.execute("COMMIT")
        return decided.height

    def workbook_read(self, sha256: str) -> bool:
        if not self.path.exists():
            return False
        with self._connect() as con:
            found = con.execute("SELECT 1 FROM decision_workbooks WHERE sha256 = ?", [sha256])
            return found.fetchone() is not None

    def latest_decisions(self) -> pl.DataFrame | None:
        """The latest decisions as the last refresh left them (none before the first)."""
        return pl.read_parquet(self.snapshot) if self.snapshot.exists() else None

    def decision_log(self) -> pl.DataFrame:
        """The whole audit trail, oldest first."""
        if not self.path.exists():
            return pl.DataFrame(schema=DECISION_COLUMNS)
        with self._connect() as con:
            return self._query(con, "SELECT * FROM decisions ORDER BY seq", [])

    def decisions(self) -> pl.DataFrame:
        """The latest decision per finding key (validators/decisions.py DECISION_SCHEMA)."""
        return (
            self.decision_log()
            .sort("seq")
            .unique("finding_key", keep="last", maintain_order=True)
            .select(*DECISION_SCHEMA)
            .cast(DECISION_SCHEMA)  # type: ignore[arg-type]
        )

    # ---------------------------------------------------------------- read by the flow

    def lines(self, as_of: date) -> pl.DataFrame:
        """Earlier runs' lines within LOOKBACK_DAYS of `as_of`, each with its file's hash (`_sha256`):
        a file must not count itself when it is validated again after a crash."""
        if not self.path.exists():
            return pl.DataFrame(schema={"_sha256": pl.String, **HISTORY_COLUMNS})
        names = ", ".join(f'"{c}"' for c in HISTORY_COLUMNS)
        with self._connect() as con:
            return self._query(
                con,
                f'SELECT sha256 AS _sha256, {names} FROM lines WHERE "_service_date" >= ?',
                [as_of - timedelta(days=LOOKBACK_DAYS)],
            )

    def trend(self, runs: int = TREND_RUNS) -> pl.DataFrame:
        """The last `runs` runs, oldest first, as the Trend sheet shows them."""
        with self._connect() as con:
            recent = self._query(con, "SELECT * FROM runs ORDER BY started DESC LIMIT ?", [runs])
        return recent.reverse().select(
            pl.col("started").alias("Run at"),
            pl.col("as_of").alias("As-of date"),
            pl.col("files").alias("Files"),
            pl.col("quarantined").alias("Quarantined"),
            pl.col("failed").alias("Failed"),
            pl.col("claims").alias("Claims"),
            pl.col("hold").alias("On hold"),
            pl.col("review").alias("To review"),
            pl.col("clean").alias("Clean"),
            (pl.col("clean") / pl.col("claims")).alias("Clean-claim rate"),
            pl.col("findings").alias("Findings"),
            pl.col("billed").alias("Billed"),
            pl.col("at_risk").alias("Dollars at risk"),
        )


def _remit_ddl(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_ddl("remit_files", REMIT_FILE_COLUMNS, "sha256"))
    for table, columns in REMIT_TABLES.items():
        con.execute(_ddl(table, {"sha256": pl.String, **columns}))
    con.execute(_ddl("remit_outcomes", REMIT_OUTCOME_COLUMNS, "production_date, rule_id"))
    con.execute(_ddl("remit_days", REMIT_DAY_COLUMNS, "production_date"))


class RemitHistory(History):
    """The remittance tables of the same history file: written by `cleanclaim remits` (or the nightly
    flow, under its inbox lock), read back to link each answer to the claim cleanclaim validated."""

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with super()._connect() as con:
            _remit_ddl(con)
            yield con

    @staticmethod
    def _frame_sql(scratch: Path, name: str, frame: pl.DataFrame) -> str:
        target = scratch / f"{name}.parquet"
        frame.write_parquet(target)
        return f"read_parquet('{target}')"

    def record_remittance(self, sha256: str, meta: dict, frames: dict[str, pl.DataFrame]) -> None:
        """One 835's rows (remit_files and REMIT_TABLES), replacing any of the same content."""
        with self._connect() as con, tempfile.TemporaryDirectory(dir=self.folder) as scratch:
            con.execute("BEGIN TRANSACTION")
            for table in ("remit_files", *REMIT_TABLES):
                con.execute(f"DELETE FROM {table} WHERE sha256 = ?", [sha256])
            con.execute(
                f"INSERT INTO remit_files VALUES ({', '.join('?' * len(REMIT_FILE_COLUMNS))})",
                [sha256, *(meta[c] for c in list(REMIT_FILE_COLUMNS)[1:])],
            )
            for table, columns in REMIT_TABLES.items():
                typed = frames[table].select(pl.col(c).cast(t) for c, t in columns.items())
                names = ", ".join(f'"{c}"' for c in columns)
                source = self._frame_sql(Path(scratch), table, typed)
                con.execute(
                    f'INSERT INTO {table} ("sha256", {names}) SELECT ?, {names} FROM {source}',
                    [sha256],
                )
            con.execute("COMMIT")

    def remits(self, claim_ids: pl.Series | None = None) -> dict[str, pl.DataFrame]:
        """Every stored answer for these claims (all claims when None), each claim row with its
        file's read time so a later answer (a correction after a reversal) can win."""
        with self._connect() as con, tempfile.TemporaryDirectory(dir=self.folder) as scratch:
            where = ""
            if claim_ids is not None:
                ids = self._frame_sql(Path(scratch), "ids", claim_ids.to_frame("claim_id"))
                where = f"WHERE c.claim_id IN (SELECT claim_id FROM {ids})"
            claims = self._query(
                con,
                f"SELECT c.*, f.read_at FROM remit_claims c JOIN remit_files f USING (sha256) {where}",
                [],
            )
            keys = self._frame_sql(Path(scratch), "keys", claims.select("sha256", "claim_pos"))
            picked = f"JOIN (SELECT * FROM {keys}) k USING (sha256, claim_pos)"
            return {
                "remit_claims": claims,
                **{
                    table: self._query(con, f"SELECT t.* FROM {table} t {picked}", [])
                    for table in ("remit_lines", "remit_adjustments")
                },
            }

    def validated(self, claim_ids: pl.Series) -> dict[str, pl.DataFrame]:
        """The claims cleanclaim validated under these ids -- each from the latest file that had it --
        with that file's findings and lines, and per rule the claims it flagged in those files."""
        with self._connect() as con, tempfile.TemporaryDirectory(dir=self.folder) as scratch:
            ids = self._frame_sql(Path(scratch), "ids", claim_ids.unique().to_frame("claim_id"))
            latest = (
                "SELECT c.sha256, c.claim_id, c.status, c.score, c.billed FROM claims c "
                f"JOIN files f USING (sha256) WHERE c.claim_id IN (SELECT claim_id FROM {ids}) "
                "QUALIFY row_number() OVER (PARTITION BY c.claim_id ORDER BY f.as_of DESC, "
                "c.sha256) = 1"
            )
            claims = self._query(con, latest, [])
            keys = self._frame_sql(Path(scratch), "keys", claims.select("sha256", "claim_id"))
            picked = f"JOIN (SELECT * FROM {keys}) k USING (sha256, claim_id)"
            files = self._frame_sql(Path(scratch), "files", claims.select("sha256").unique())
            flagged = (
                "SELECT rule_id, count(DISTINCT claim_id) AS flagged_claims FROM findings "
                f"WHERE sha256 IN (SELECT sha256 FROM {files}) GROUP BY rule_id"
            )
            return {
                "claims": claims,
                "findings": self._query(con, f"SELECT t.* FROM findings t {picked}", []),
                "lines": self._query(con, f"SELECT t.* FROM lines t {picked}", []),
                "flagged": self._query(con, flagged, []),
            }

    def record_outcomes(self, day: date, outcomes: pl.DataFrame, totals: dict) -> None:
        """A production date's rule outcomes and totals, replacing an earlier reading of that date."""
        with self._connect() as con, tempfile.TemporaryDirectory(dir=self.folder) as scratch:
            typed = outcomes.select(pl.col(c).cast(t) for c, t in REMIT_OUTCOME_COLUMNS.items())
            source = self._frame_sql(Path(scratch), "outcomes", typed)
            con.execute("BEGIN TRANSACTION")
            for table in ("remit_outcomes", "remit_days"):
                con.execute(f"DELETE FROM {table} WHERE production_date = ?", [day])
            con.execute(f"INSERT INTO remit_outcomes SELECT * FROM {source}")
            con.execute(
                f"INSERT INTO remit_days VALUES ({', '.join('?' * len(REMIT_DAY_COLUMNS))})",
                [day, *(totals[c] for c in list(REMIT_DAY_COLUMNS)[1:])],
            )
            con.execute("COMMIT")

    def remit_trend(self) -> pl.DataFrame:
        """Every production date read so far, oldest first."""
        with self._connect() as con:
            return self._query(con, "SELECT * FROM remit_days ORDER BY production_date", [])


def file_meta(name: str, run_id: str, as_of: date, claims: int, findings: int) -> dict:
    return {
        "file": name,
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "claims": claims,
        "findings": findings,
    }


def run_row(run_id: str, result, counts: dict[str, int]) -> dict:
    """One run's counts for the runs table (`result` is the run's pipeline.Run)."""
    claims = result.claims
    by_status = {s: int((claims["status"] == s).sum()) for s in ("hold", "review", "clean")}
    return {
        "run_id": run_id,
        "as_of": result.as_of,
        "started": result.started,
        "seconds": result.seconds,
        "files": counts["files"],
        "validated": counts["validated"],
        "quarantined": counts["quarantined"],
        "already_processed": counts["already processed"],
        "failed": counts["failed"],
        "claims": claims.height,
        **by_status,
        "findings": result.findings.height,
        "billed": float(claims["billed"].sum() or 0),
        "at_risk": float(claims["at_risk"].sum() or 0),
    }
