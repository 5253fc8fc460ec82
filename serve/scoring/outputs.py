"""Files of a scoring run: private folders, atomic part files, and the final results rebuilt from parts.

Everything written here contains mail, so folders are 0700 and files 0600, and
every file appears under its final name only once complete (temp file + ``os.replace``).
An output folder is only ever written (and cleaned) when it is new, empty or an earlier
run's: never a folder of someone else's files, never through a symbolic link.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mailguard.csvsafe import neutralise_cell
from mailguard.errors import OutputError
from serve.scoring.batch import CSV_COLUMNS, RESULT_SCHEMA, TEXT_COLUMNS

DIR_MODE = 0o700
FILE_MODE = 0o600
PARTS = "parts"
STATE = ".state"
RESULTS_PARQUET = "results.parquet"
RESULTS_CSV = "results.csv"
LEDGER = "ledger.sqlite"
# Text columns of results.csv that can hold what a sender or a file name controls.
_CSV_TEXT = tuple(c for c in CSV_COLUMNS if RESULT_SCHEMA.field(c).type == pa.string() and c not in TEXT_COLUMNS)


def is_run_folder(path: Path) -> bool:
    """Return whether ``path`` is the output folder of a ``mailguard score`` run (it holds the run's ledger).

    A folder holding only empty ``parts/`` and ``.state/`` folders (a run stopped before
    its ledger was created) counts too.
    """
    if (path / STATE / LEDGER).is_file():
        return True
    try:
        entries = list(os.scandir(path))
    except OSError:
        return False
    return bool(entries) and all(
        e.name in (PARTS, STATE) and e.is_dir(follow_symlinks=False) and not any(os.scandir(e.path)) for e in entries
    )


def check_output_folder(out: Path) -> None:
    """Raise ``OutputError`` unless ``out`` may receive a run: absent, empty, or an earlier run's folder.

    A symbolic link is refused (for ``out`` and for its ``parts``/``.state``), so that
    making files private (chmod) and cleaning stale parts never act outside the folder given.
    """
    for path in (out, out / PARTS, out / STATE):
        if os.path.islink(path):
            raise OutputError(f"output folder {path} is a symbolic link; give the real folder instead")
    if not os.path.lexists(out):
        return
    if not out.is_dir():
        raise OutputError(f"output folder {out} exists and is not a folder")
    try:
        empty = not any(os.scandir(out))
    except OSError as e:
        raise OutputError(f"cannot read output folder {out}: {e.strerror or e}") from e
    if not empty and not is_run_folder(out):
        raise OutputError(
            f"output folder {out} is not empty and holds no earlier mailguard run ({STATE}/{LEDGER}); "
            "choose a new or empty folder (nothing in it was changed)"
        )


def private_dir(path: Path) -> Path:
    """Return ``path`` created (with parents) and restricted to its owner (0700)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


@contextlib.contextmanager
def atomic_file(final: Path) -> Iterator[Path]:
    """Yield a temp path next to ``final``; on success make it 0600, fsync it and move it into place."""
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def part_path(out: Path, number: int) -> Path:
    """Return the path of part file ``number``."""
    return out / PARTS / f"part-{number:06d}.parquet"


def write_part(out: Path, number: int, frame: pd.DataFrame) -> Path:
    """Write ``frame`` as part file ``number`` atomically; return its path."""
    final = part_path(out, number)
    with atomic_file(final) as tmp:
        pq.write_table(to_arrow(frame), tmp)
    return final


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """Return ``frame`` as an Arrow table with the results schema (no pandas index)."""
    arrays = []
    for field in RESULT_SCHEMA:
        column = frame[field.name]
        if field.name == "date":
            # Via naive UTC values: pyarrow's own path for tz-aware columns trips a pandas 3 deprecation.
            naive = column.dt.tz_convert(None).to_numpy(dtype="datetime64[us]")
            arrays.append(pa.array(naive, type=pa.timestamp("us")).cast(field.type))
        else:
            arrays.append(pa.array(column.to_numpy(), type=field.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=RESULT_SCHEMA)


def prune_parts(out: Path, current: set[int], first_unused: int) -> list[Path]:
    """Delete part files no ledger row points at, and temp files of a killed run; return what was deleted.

    A part numbered ``first_unused`` or above was written by a run killed before its
    ledger commit; a lower one outside ``current`` was wholly superseded by a rescore.
    """
    removed = []
    for path in sorted((out / PARTS).glob("part-*.parquet")):
        number = int(path.stem.split("-")[1])
        if number >= first_unused or number not in current:
            path.unlink()
            removed.append(path)
    for tmp in [*(out / PARTS).glob(".part-*.tmp-*"), *out.glob(".*.tmp-*")]:
        tmp.unlink()
        removed.append(tmp)
    return removed


def build_results(out: Path, parts: list[int], keep: Callable[[int, pd.DataFrame], pd.Series]) -> int:
    """(Re)build ``results.parquet`` and ``results.csv`` from ``parts``, part by part; return the row count.

    ``keep(number, frame)`` says which rows of a part are current (a row is
    superseded when its message was scored again into a later part). Memory holds
    one part at a time.
    """
    rows = 0
    # Exits run in reverse: the writers close before each temp file is moved into place.
    with (
        atomic_file(out / RESULTS_PARQUET) as tmp_parquet,
        atomic_file(out / RESULTS_CSV) as tmp_csv,
        pq.ParquetWriter(tmp_parquet, RESULT_SCHEMA) as writer,
        open(tmp_csv, "w", encoding="utf-8", newline="") as csv,
    ):
        csv.write(",".join(CSV_COLUMNS) + "\n")
        for number in parts:
            frame = pd.read_parquet(part_path(out, number))
            frame = frame[keep(number, frame)].reset_index(drop=True)
            if frame.empty:
                continue
            writer.write_table(to_arrow(frame))
            csv_rows = frame[list(CSV_COLUMNS)].copy()
            for column in _CSV_TEXT:  # what spreadsheets would run as a formula is shown as text
                csv_rows[column] = csv_rows[column].map(neutralise_cell)
            csv_rows.to_csv(csv, header=False, index=False)
            rows += len(frame)
    return rows


def write_text(final: Path, text: str) -> Path:
    """Write ``text`` to ``final`` atomically with mode 0600; return it."""
    with atomic_file(final) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return final
