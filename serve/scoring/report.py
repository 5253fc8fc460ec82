"""The human side of a scoring run: ``summary.json`` (for monitoring) and ``report.html`` (for people).

Both are computed by streaming over ``results.parquet`` without the message text
columns, so memory stays small for any mailbox. Neither holds bodies or subjects;
the report shows the evidence span of top flagged messages, which reviewers need.
"""

from __future__ import annotations

import base64
import heapq
import html
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from mailguard.evidence import describe, parse_evidence
from mailguard.taxonomy import LABELS, SCORE_COLUMNS
from serve.scoring import outputs

BINS = np.linspace(0.0, 1.0, 21)
TOP_N = 25
_COLUMNS = ["message_id", "source", "status", "error", "labels", "evidence", "direction", "bulk", "duplicate_of",
            "queue", *SCORE_COLUMNS]


def summarise(results: Path, run: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[int]], list[dict[str, Any]]]:
    """Return (summary, score histograms per label, top flagged rows) of the results table ``results``."""
    labels: Counter[str] = Counter()
    direction: Counter[str] = Counter()
    split: dict[str, Counter[str]] = {}
    errors: Counter[str] = Counter()
    hist = {lb: np.zeros(len(BINS) - 1, dtype=int) for lb in LABELS}
    # Min-heap of ((queued, score), -row number, row) keeping the TOP_N: rows bound for review rank first.
    top: list[tuple[tuple[bool, float], int, dict[str, Any]]] = []
    totals = Counter(rows=0, ok=0, errors=0, flagged=0, queued=0, duplicates=0, bulk=0)
    for batch in pq.ParquetFile(results).iter_batches(batch_size=20_000, columns=_COLUMNS):
        frame = batch.to_pandas()
        totals["rows"] += len(frame)
        ok = frame["status"] == "ok"
        totals["ok"] += int(ok.sum())
        totals["errors"] += int((~ok).sum())
        flagged = frame["labels"] != ""
        totals["flagged"] += int(flagged.sum())
        totals["queued"] += int(frame["queue"].sum())
        firsts = frame["duplicate_of"] == ""
        totals["duplicates"] += int((~firsts).sum())
        totals["bulk"] += int(frame["bulk"].sum())
        errors.update(e.split(":", 1)[0].strip() or "unknown" for e in frame.loc[~ok, "error"])
        for value in frame.loc[flagged, "labels"]:
            labels.update(value.split(";"))
        for name, part in frame.groupby(frame["direction"].where(ok, "error")):
            direction[str(name)] += len(part)
            counts = split.setdefault(str(name), Counter())
            counts.update(rows=len(part), flagged=int((part["labels"] != "").sum()), queued=int(part["queue"].sum()),
                          bulk=int(part["bulk"].sum()))
        scored = frame[ok & firsts]
        for lb, col in zip(LABELS, SCORE_COLUMNS, strict=True):
            hist[lb] += np.histogram(scored[col].dropna().to_numpy(), bins=BINS)[0]
        peak = scored[list(SCORE_COLUMNS)].max(axis=1)
        for i in scored.index[scored["labels"] != ""]:
            item = ((bool(frame.at[i, "queue"]), float(peak[i])), -(totals["rows"] - len(frame) + int(i)), {
                "message_id": frame.at[i, "message_id"], "source": frame.at[i, "source"],
                "labels": frame.at[i, "labels"], "score": float(peak[i]), "queue": bool(frame.at[i, "queue"]),
                "direction": frame.at[i, "direction"], "evidence": parse_evidence(frame.at[i, "evidence"]),
            })
            if len(top) < TOP_N:
                heapq.heappush(top, item)
            else:
                heapq.heappushpop(top, item)
    this_run = run.get("this_run", {})
    elapsed = float(this_run.get("elapsed_seconds", 0.0))
    summary = {
        "model_version": run.get("model_version", ""),
        "run_id": run.get("run_id", ""),
        "totals": dict(totals),
        "labels": {lb: labels.get(lb, 0) for lb in LABELS},
        "direction": dict(sorted(direction.items())),
        "by_direction": {k: dict(v) for k, v in sorted(split.items())},
        "errors_by_kind": dict(errors.most_common()),
        "messages_per_second": round(this_run.get("scored", 0) / elapsed, 1) if elapsed > 0 else 0.0,
        "elapsed_seconds": round(elapsed, 2),
        **{k: v for k, v in run.items() if k not in ("model_version", "run_id")},
    }
    ranked = [entry for _, _, entry in sorted(top, reverse=True)]  # highest score first, earlier rows first
    return summary, {lb: h.tolist() for lb, h in hist.items()}, ranked


def write_reports(out: Path, run: dict[str, Any]) -> dict[str, Any]:
    """Write ``summary.json`` and ``report.html`` into ``out`` (atomically, 0600); return the summary."""
    summary, hist, top = summarise(out / outputs.RESULTS_PARQUET, run)
    outputs.write_text(out / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    outputs.write_text(out / "report.html", render_html(summary, hist, top))
    return summary


def _histogram_png(hist: dict[str, list[int]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 5, figsize=(13, 4.6), sharex=True)
    centres = (BINS[:-1] + BINS[1:]) / 2
    for ax, lb in zip(axes.flat, LABELS, strict=True):
        ax.bar(centres, np.maximum(hist[lb], 0), width=BINS[1] - BINS[0], color="#4a6fa5")
        ax.set_yscale("symlog")
        ax.set_title(lb, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.supxlabel("score", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _clip(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;
vertical-align:top;font-size:.9em}th{background:#f0f3f7}.ev{font-size:.85em;color:#555;max-width:40em}"""


def render_html(summary: dict[str, Any], hist: dict[str, list[int]], top: list[dict[str, Any]]) -> str:
    """Return a self-contained HTML report (inline CSS, charts as base64 PNG): no bodies, no subjects."""
    t = summary["totals"]
    run = summary.get("this_run", {})
    sections = [
        "<h2>Totals</h2>" + _table(["rows", "scored ok", "errors", "flagged", "queued for review", "duplicates"],
                                   [[t["rows"], t["ok"], t["errors"], t["flagged"], t["queued"], t["duplicates"]]]),
        "<h2>Flags per label</h2>" + _table(["label", "rows"], [[k, v] for k, v in summary["labels"].items()]),
        "<h2>Staff-sent and inbound mail</h2>" + _table(
            ["direction", "rows", "flagged", "queued", "bulk"],
            [[d, c.get("rows", 0), c.get("flagged", 0), c.get("queued", 0), c.get("bulk", 0)]
             for d, c in summary["by_direction"].items()]),
        "<h2>Score distributions</h2>"
        f'<img alt="score histograms per label" src="data:image/png;base64,{_histogram_png(hist)}">',
        f"<h2>Top flagged messages</h2><p>Queued first, then by score; at most {TOP_N}.</p>" + _table(
            ["message id", "source", "labels", "score", "queued", "evidence"],
            [[r["message_id"], r["source"], r["labels"], f"{r['score']:.3f}", r["queue"],
              "; ".join(f"{k}: {_clip(v[0].get('text', ''))} ({describe(v[0])})" for k, v in r["evidence"].items() if v)]
             for r in top]),
        "<h2>Errors by kind</h2>" + (_table(["kind", "rows"], list(map(list, summary["errors_by_kind"].items())))
                                     if summary["errors_by_kind"] else "<p>None.</p>"),
        "<h2>This run</h2>" + _table(
            ["read", "out of window", "undated", "already done", "scored", "msg/s", "elapsed s"],
            [[run.get("read", 0), run.get("out_of_window", 0), run.get("undated", 0), run.get("skipped_done", 0),
              run.get("scored", 0), summary["messages_per_second"], summary["elapsed_seconds"]]]),
    ]
    title = f"mailguard scoring report: model {summary['model_version']}"
    meta = (f"<p>Started {html.escape(str(summary.get('started_at', '')))}, window "
            f"{html.escape(str(summary.get('since') or '-'))} to {html.escape(str(summary.get('until') or '-'))}.</p>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>{meta}{''.join(sections)}</body></html>\n")
