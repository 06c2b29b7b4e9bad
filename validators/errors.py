"""The two errors that stop work, and what they promise: their text never holds claim data.

Cell values are PHI. Parser and validator messages from polars, pandera and openpyxl quote
them, so those exceptions are translated here and chained with `from None`.
"""

from __future__ import annotations

from polars.exceptions import PanicException

# What a boundary (a file, a rule, a parser) catches. polars reports a fault of its own, as a damaged
# Parquet footer can cause, as a PanicException, which is a BaseException: caught with the rest so
# that such a file is set aside with its reason instead of ending the run in a traceback.
FAULTS = (Exception, PanicException)


class ExtractError(Exception):
    """A whole input file cannot be used: names the file, the problem and what was expected."""

    def __init__(self, path: str, problem: str, expected: str, *, reason: str = "unreadable"):
        self.path = str(path)
        self.problem = problem
        self.expected = expected
        self.reason = reason  # short code: bad_encoding, missing_columns, zip_bomb, ...
        super().__init__(f"{self.path}: {problem}. {expected}")


class RuleConfigError(Exception):
    """The rule catalog or a config file is wrong; raised before any claim is read."""
