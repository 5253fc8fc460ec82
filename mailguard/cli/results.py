"""`mailguard results DIR`: print the messages a scoring run flagged (for people at a terminal)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailguard.cli.app import app, run_or_exit
from mailguard.errors import InputError
from mailguard.evidence import parse_evidence, top_text


def flagged_rows(out_dir: Path, limit: int) -> list[dict[str, str]]:
    """Return the flagged rows of a run's results (highest score first) as display strings."""
    import pandas as pd

    path = out_dir / "results.parquet"
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {path}: {e}") from e
    df = df[df["labels"].fillna("") != ""].copy()
    score_cols = [c for c in df.columns if c.startswith("score_")]
    df["top"] = df[score_cols].max(axis=1)
    rows = []
    for _, r in df.sort_values("top", ascending=False).head(limit).iterrows():
        first = top_text(parse_evidence(r.get("evidence")))
        rows.append(
            {
                "message_id": str(r["message_id"]),
                "labels": str(r["labels"]),
                "score": f"{r['top']:.2f}",
                "queued": "yes" if bool(r.get("queue", True)) else "no",
                "evidence": " ".join(first.split())[:90],
            }
        )
    return rows


@app.command()
def results(
    out_dir: Annotated[Path, typer.Argument(help="Output folder of `mailguard score`.")],
    limit: Annotated[int, typer.Option(help="Show at most this many messages.")] = 50,
) -> None:
    """Print the flagged messages of a scoring run with their labels and evidence."""
    rows = run_or_exit(lambda: flagged_rows(out_dir, limit))
    if not rows:
        typer.echo("no messages flagged")
        return
    typer.echo(f"{len(rows)} flagged message(s):")
    for r in rows:
        typer.echo(f"- {r['message_id']}  [{r['labels']}]  score {r['score']}  queued: {r['queued']}")
        if r["evidence"]:
            typer.echo(f"    evidence: {r['evidence']}")
