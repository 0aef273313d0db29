"""Results for a report: all of them, or a refusal that names every unreadable file.

A report over a subset of the runs would look complete while its curves and paired tests
miss seeds, so one unreadable or schema-breaking Parquet file stops the report (nothing is
written). The error lists every such file, not only the first, and says how to recover:
a run's Parquet file marks it finished, so deleting the file and repeating the
``albench run`` that wrote it recomputes exactly the missing runs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from albench import results
from albench.errors import ResultsError

#: unreadable files shown in the message (the count is always given)
SHOWN = 5


def load_results(paths: Path | str | Sequence[Path | str]) -> pd.DataFrame:
    """:func:`albench.results.load`, with a one-line ResultsError naming every bad file."""
    try:
        return results.load(paths)
    except ResultsError as error:
        sources = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        bad = unreadable(sources)
        if not bad:
            raise
        raise ResultsError(_message(bad, sources)) from error


def unreadable(sources: Sequence[Path | str]) -> dict[Path, str]:
    """Result file -> why it cannot be used, for each file under ``sources``."""
    bad = {}
    for source in sources:
        for file in results.result_files(source):
            try:
                results.load(file)
            except ResultsError as error:
                reason = str(error).removeprefix(f"{file}: ")
                bad[file] = " ".join(reason.split())
    return bad


def _message(bad: dict[Path, str], sources: Sequence[Path | str]) -> str:
    total = sum(len(results.result_files(source)) for source in sources)
    shown = "; ".join(f"{file} ({why})" for file, why in list(bad.items())[:SHOWN])
    more = f"; and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
    return (
        f"{len(bad)} of {total} results files cannot be read, so no report was written: "
        f"{shown}{more}. Delete {'it' if len(bad) == 1 else 'them'} and repeat the "
        "`albench run` that wrote the results: it recomputes just the missing runs"
    )
