"""Model cards: a markdown card (and an HTML rendering with plots embedded) built from evaluation metrics."""

from __future__ import annotations

import base64
import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from markdown_it import MarkdownIt
from markupsafe import escape

from mailguard.taxonomy import DESCRIPTIONS

TEMPLATES = Path(__file__).parent / "templates"
DATASET_CARD = Path("docs/dataset_card.md")

#: Every section a card has, in order (tests check each one is present).
SECTIONS = (
    "Model details",
    "Intended use",
    "Out-of-scope use",
    "Training data",
    "Metrics",
    "Known weaknesses",
    "Thresholds",
    "Reproduce",
)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.2f}%"


def known_weaknesses(metrics: dict[str, Any], worst: int = 5) -> list[str]:
    """Return one sentence per known weakness: worst functionalities, groups, labels and calibration."""
    lines: list[str] = []
    suite = metrics.get("suite") or {}
    per_fn = sorted(
        ((name, m) for name, m in suite.get("per_functionality", {}).items() if m["accuracy"] < 1.0),
        key=lambda kv: kv[1]["accuracy"],
    )
    if per_fn:
        listed = ", ".join(f"{name} ({_fmt(m['accuracy'])}, {m['n']} cases)" for name, m in per_fn[:worst])
        lines.append(f"Weakest functional-suite functionalities: {listed}.")
    bias = metrics.get("bias") or {}
    subgroups = bias.get("subgroups", {})
    if subgroups:
        lowest = sorted(
            subgroups.items(), key=lambda kv: min(kv[1]["subgroup_auc"], kv[1]["bpsn_auc"], kv[1]["bnsp_auc"])
        )[:3]
        listed = ", ".join(
            f"{g} (subgroup {_fmt(m['subgroup_auc'])}, BPSN {_fmt(m['bpsn_auc'])}, BNSP {_fmt(m['bnsp_auc'])})"
            for g, m in lowest
        )
        lines.append(f"Identity subgroups with the lowest AUCs: {listed}.")
    neutral = [(g, m) for g, m in (bias.get("neutral_fpr") or {}).items() if m.get("fpr")]
    if neutral:
        worst_fpr = sorted(neutral, key=lambda kv: -kv[1]["fpr"])[:3]
        listed = ", ".join(f"{g} ({_pct(m['fpr'])} of {m['n']})" for g, m in worst_fpr)
        lines.append(f"Highest false-positive rates on neutral identity mentions: {listed}.")
    stance = bias.get("stance_test") or {}
    if stance.get("n_clean"):
        lines.append(
            f"Held-out stance pairs (a claim about a group asserted vs rejected or condemned): "
            f"{_pct(stance.get('clean_flagged'))} of {stance['n_clean']} clean ones flagged, "
            f"{_pct(stance.get('violations_caught'))} of {stance.get('n_violating', 0)} violating ones caught."
        )
    if bias.get("skipped"):
        lines.append(f"Too few test texts to measure bias for: {', '.join(sorted(bias['skipped']))}.")
    test = metrics.get("test") or {}
    per_label = test.get("per_label", {})
    scored = [(lb, m["pr_auc"]) for lb, m in per_label.items() if m.get("pr_auc") is not None]
    if scored:
        lb, v = min(scored, key=lambda kv: kv[1])
        lines.append(f"Lowest test PR-AUC: {lb} ({_fmt(v)}).")
    if test.get("excluded_from_macro"):
        lines.append(f"No test positives, so unmeasured: {', '.join(test['excluded_from_macro'])}.")
    ece = [(lb, v) for lb, v in (test.get("ece") or {}).items() if v is not None and v > 0.1]
    if ece:
        lines.append("Poorly calibrated (ECE > 0.1; read scores as rankings): " + ", ".join(lb for lb, _ in ece) + ".")
    clean = metrics.get("clean_mail") or {}
    if clean:
        lines.append(f"{_pct(clean.get('any_label_fpr'))} of realistic clean mail gets at least one flag.")
    lines.append("English only; trained largely on public social-media corpora and authored workplace text.")
    return lines


def render_model_card(
    metrics: dict[str, Any], plots_dir: Path, dest: Path, *, dataset_card: Path | None = DATASET_CARD, inline: bool
) -> str:
    """Return the model card markdown; plots are linked relative to ``dest`` or, with ``inline``, embedded."""

    def image(name: str, alt: str) -> str:
        path = plots_dir / name
        if not path.is_file():
            return ""
        if inline:
            src = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        else:
            src = Path(os.path.relpath(path.resolve(), dest.parent.resolve())).as_posix()
        return f"![{alt}]({src})"

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt"] = _fmt
    env.filters["pct"] = _pct
    bias = metrics.get("bias") or {}
    card_link = None
    if dataset_card is not None and dataset_card.is_file():
        card_link = Path(os.path.relpath(dataset_card.resolve(), dest.parent.resolve())).as_posix()
    meta = metrics.get("meta", {})
    return env.get_template("model_card.md.j2").render(
        meta=meta,
        descriptions=DESCRIPTIONS,
        data=metrics.get("data") or {},
        dataset_card=card_link,
        test=metrics["test"],
        suite=metrics.get("suite"),
        bias={"neutral_fpr": {}, "skipped": {}, **bias},
        bias_groups=sorted(set(bias.get("subgroups", {})) | set(bias.get("neutral_fpr") or {})),
        clean_mail=metrics.get("clean_mail"),
        weaknesses=known_weaknesses(metrics),
        reproduce=reproduce_command(meta),
        image=image,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def reproduce_command(meta: dict[str, Any]) -> str:
    """Return the shell lines that rebuild the model's data, model and this evaluation."""
    lines = [
        "# at the git commit that produced this model (training data revision "
        f"{meta.get('data_revision') or 'unknown'}):",
        "dvc repro evaluate        # prepare -> train -> evaluate, as pinned in dvc.lock",
        "# or evaluate this model alone:",
        meta.get("command") or "mailguard evaluate champion",
    ]
    return "\n".join(lines)


def write_model_card(
    metrics: dict[str, Any], plots_dir: Path, dest: str | Path, *, dataset_card: Path | None = DATASET_CARD
) -> tuple[Path, Path]:
    """Write the card to ``dest`` (markdown) and ``dest`` with ``.html`` (plots inlined); return both paths."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    md = render_model_card(metrics, plots_dir, dest, dataset_card=dataset_card, inline=False)
    dest.write_text(md, encoding="utf-8")
    html_body = MarkdownIt("commonmark").enable("table").render(
        render_model_card(metrics, plots_dir, dest, dataset_card=dataset_card, inline=True)
    )
    html_path = dest.with_suffix(".html")
    title = f"mailguard model card {metrics.get('meta', {}).get('model_version', '')}"
    html_path.write_text(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>\n{html_body}</body></html>\n",
        encoding="utf-8",
    )
    return dest, html_path


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
    "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}"
    "img{max-width:100%}pre{background:#f4f4f4;padding:.5rem;overflow-x:auto}"
)
