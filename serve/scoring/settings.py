"""The settings of a scoring run: ``mailguard.toml`` ([score], [queue], [organisation]) under CLI overrides."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from mailguard.config import load_toml
from mailguard.errors import ConfigError
from mailguard.taxonomy import HARASSMENT_LABELS, LABELS, check_label

#: Looked for in the working directory when ``--config`` is not given.
DEFAULT_CONFIG = Path("mailguard.toml")

_SCORE_KEYS = {"model", "out", "workers", "batch_size", "review_db", "log_format", "inputs", "message_seconds",
               "keep_days", "engine", "ray_address", "ray_actor_cpus", "ray_actor_gpus"}
_QUEUE_KEYS = {"inbound_bulk_labels", "queue_inbound", "quoted_only", "high_score_queues_bulk", "high_score",
               "high_score_labels"}
#: Seconds one message may take to read, and again to score, before it becomes a ``timeout`` error row.
#: Generous for real mail (each attachment is also capped at 5 s); tight enough that hostile mail costs seconds.
DEFAULT_MESSAGE_SECONDS = 10.0
#: Score at or above which a flagged harassment label queues inbound bulk mail anyway (bulk headers are sender-set).
DEFAULT_HIGH_SCORE = 0.9
#: What happens to a message flagged only for text it quotes or forwards (``[queue] quoted_only``).
QUOTED_ONLY_RULES = ("queue", "report")
#: Who runs the scoring: this machine's process pool, or a Ray cluster (``pip install 'mailguard[ray]'``).
ENGINES = ("local", "ray")
# A Ray address: a running cluster's GCS ("host:port"), Ray Client ("ray://host:port") or "auto".
_RAY_ADDRESS = re.compile(r"(?:ray://)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5}")


@dataclass(frozen=True)
class QueueRules:
    """Which flagged rows enter the review queue.

    Staff-sent and internal mail is always queued when flagged. Inbound bulk mail
    (newsletters, marketing, lists) is scored and reported but queued only for the
    labels in ``inbound_bulk_labels`` (none by default: it is not staff conduct).
    ``queue_inbound = False`` keeps *all* inbound mail out of the queue.
    ``quoted_only`` decides for a message flagged only for what it quotes or forwards:
    ``queue`` (default: a reviewer decides, the row says "in quoted/forwarded text") or
    ``report`` (kept in the results, not queued). Bulk status comes from headers the sender
    sets, so it may only lower priority: inbound bulk mail flagged for one of
    ``high_score_labels`` with a score of at least ``high_score`` is queued anyway (``None``
    turns this off). See docs/nightly.md.
    """

    inbound_bulk_labels: frozenset[str] = frozenset()
    queue_inbound: bool = True
    quoted_only: str = "queue"
    high_score: float | None = DEFAULT_HIGH_SCORE
    high_score_labels: frozenset[str] = frozenset(HARASSMENT_LABELS)


@dataclass(frozen=True)
class ScoreSettings:
    """Everything one ``mailguard score`` run needs besides its inputs."""

    out: Path
    model: str = "champion"
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    batch_size: int = 256
    since: datetime | None = None  # inclusive, UTC
    until: datetime | None = None  # exclusive, UTC
    rescore: bool = False
    review_db: str = ""
    org_domains: tuple[str, ...] = ()
    log_format: str = "text"
    quiet: bool = False
    queue: QueueRules = QueueRules()
    message_seconds: float | None = DEFAULT_MESSAGE_SECONDS  # None: no time budget
    keep_days: int = 0  # delete day folders next to ``out`` older than this many days; 0 keeps everything
    engine: str = "local"  # "local" (process pool) or "ray" (Ray Data actor pool, docs/scale-out.md)
    ray_address: str = ""  # "" starts Ray on this machine; "auto", "host:port" or "ray://host:port" join a cluster
    ray_actor_cpus: float = 1.0  # CPUs each Ray scoring actor reserves
    ray_actor_gpus: float = 0.0  # GPUs each Ray scoring actor reserves (0: CPU actors)

    def admits(self, when: datetime | None) -> bool:
        """Return whether a message dated ``when`` is inside [since, until); undated messages always are."""
        if when is None:
            return True
        if when.tzinfo is None:  # readers promise UTC-aware dates; be safe with a stray naive one
            when = when.replace(tzinfo=UTC)
        return not ((self.since and when < self.since) or (self.until and when >= self.until))


def parse_day(value: str, *, end: bool = False) -> datetime:
    """Return a UTC datetime for ``YYYY-MM-DD`` (midnight) or an ISO timestamp; raise ``ConfigError``.

    ``--until 2026-11-28`` means "up to and including that day", so with ``end`` a
    plain date becomes the following midnight (the bound is exclusive). A timestamp
    without a zone is read as UTC.
    """
    value = value.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(0), tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError as e:
        raise ConfigError(f"cannot read date {value!r}: use YYYY-MM-DD or an ISO timestamp") from e
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def load_score_settings(config: Path | None, overrides: dict[str, Any]) -> tuple[ScoreSettings, list[str]]:
    """Return the run settings and the configured inputs: defaults < config file < ``overrides``.

    ``config`` is read when given (it must exist); otherwise ``./mailguard.toml`` is
    read if present. ``overrides`` holds the CLI options that were actually given
    (``None`` values are ignored).
    """
    data: dict[str, Any] = {}
    if config is not None:
        data = load_toml(config)
    elif DEFAULT_CONFIG.is_file():
        config = DEFAULT_CONFIG
        data = load_toml(DEFAULT_CONFIG)
    where = f"config file {config}" if config is not None else "settings"
    score = _table(data, "score", where)
    queue = _table(data, "queue", where)
    org = _table(data, "organisation", where)
    for name, table, known in (("score", score, _SCORE_KEYS), ("queue", queue, _QUEUE_KEYS)):
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) in [{name}]: {', '.join(unknown)}")

    merged: dict[str, Any] = {k: v for k, v in score.items() if k != "inputs"}
    if "domains" in org:
        merged["org_domains"] = org["domains"]
    merged.update({k: v for k, v in overrides.items() if v is not None and v != () and v != []})
    if not merged.get("out"):
        raise ConfigError("no output folder: pass --out DIR or set out in [score] of mailguard.toml")
    settings = ScoreSettings(out=Path(merged.pop("out")))
    settings = replace(
        settings,
        model=_str(merged, "model", settings.model, where),
        workers=_positive_int(merged, "workers", settings.workers, where),
        batch_size=_positive_int(merged, "batch_size", settings.batch_size, where),
        review_db=_str(merged, "review_db", "", where),
        log_format=_str(merged, "log_format", "text", where),
        org_domains=tuple(d.strip().lower().lstrip("@") for d in _str_list(merged, "org_domains", where)),
        since=merged.get("since"),
        until=merged.get("until"),
        rescore=bool(merged.get("rescore", False)),
        quiet=bool(merged.get("quiet", False)),
        queue=_queue_rules(queue, where),
        message_seconds=_seconds(merged, "message_seconds", DEFAULT_MESSAGE_SECONDS, where),
        keep_days=_non_negative_int(merged, "keep_days", 0, where),
        engine=_str(merged, "engine", "local", where),
        ray_address=_str(merged, "ray_address", "", where).strip(),
        ray_actor_cpus=_number(merged, "ray_actor_cpus", 1.0, where, minimum=0.0, inclusive=False),
        ray_actor_gpus=_number(merged, "ray_actor_gpus", 0.0, where, minimum=0.0, inclusive=True),
    )
    if settings.engine not in ENGINES:
        raise ConfigError(f"{where}: engine must be one of {', '.join(ENGINES)}, got {settings.engine!r}")
    if settings.ray_address not in ("", "auto") and not _RAY_ADDRESS.fullmatch(settings.ray_address):
        raise ConfigError(f"{where}: ray_address must be auto, host:port or ray://host:port, "
                          f"got {settings.ray_address!r}")
    if settings.log_format not in ("text", "json"):
        raise ConfigError(f"{where}: log_format must be 'text' or 'json', got {settings.log_format!r}")
    if settings.since and settings.until and settings.since >= settings.until:
        raise ConfigError("--since must be earlier than --until")
    inputs = score.get("inputs", [])
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        raise ConfigError(f"{where}: inputs in [score] must be a list of paths or globs")
    return settings, inputs


def _table(data: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    return value


def _str(values: dict[str, Any], key: str, default: str, where: str) -> str:
    value = values.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a string, got {type(value).__name__}")
    return value


def _positive_int(values: dict[str, Any], key: str, default: int, where: str) -> int:
    value = values.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: {key} must be a whole number of at least 1, got {value!r}")
    return value


def _non_negative_int(values: dict[str, Any], key: str, default: int, where: str) -> int:
    value = values.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: {key} must be a whole number of at least 0, got {value!r}")
    return value


def _number(values: dict[str, Any], key: str, default: float, where: str, *, minimum: float, inclusive: bool) -> float:
    value = values.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value == float("inf") or not (
        value >= minimum if inclusive else value > minimum
    ):
        bound = f"at least {minimum:g}" if inclusive else f"above {minimum:g}"
        raise ConfigError(f"{where}: {key} must be a number {bound}, got {value!r}")
    return float(value)


def _seconds(values: dict[str, Any], key: str, default: float, where: str) -> float | None:
    """Return a time budget in seconds; 0 turns it off (None)."""
    value = values.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0 or value == float("inf"):
        raise ConfigError(f"{where}: {key} must be a number of seconds (0 for no limit), got {value!r}")
    return float(value) or None


def _labels(values: dict[str, Any], key: str, where: str, default: frozenset[str]) -> frozenset[str]:
    if key not in values:
        return default
    labels = _str_list(values, key, where)
    try:
        return frozenset(LABELS if labels == ["*"] else [check_label(lb) for lb in labels])
    except ValueError as e:
        raise ConfigError(f"{where}: [queue] {key}: {e}") from e


def _str_list(values: dict[str, Any], key: str, where: str) -> list[str]:
    value = values.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {key} must be a list of strings")
    return list(value)


def _queue_rules(queue: dict[str, Any], where: str) -> QueueRules:
    checked = _labels(queue, "inbound_bulk_labels", where, frozenset())
    inbound = queue.get("queue_inbound", True)
    if not isinstance(inbound, bool):
        raise ConfigError(f"{where}: [queue] queue_inbound must be true or false")
    quoted = queue.get("quoted_only", "queue")
    if quoted not in QUOTED_ONLY_RULES:
        raise ConfigError(f"{where}: [queue] quoted_only must be one of {', '.join(QUOTED_ONLY_RULES)}, got {quoted!r}")
    override = queue.get("high_score_queues_bulk", True)
    if not isinstance(override, bool):
        raise ConfigError(f"{where}: [queue] high_score_queues_bulk must be true or false")
    high = queue.get("high_score", DEFAULT_HIGH_SCORE)
    if isinstance(high, bool) or not isinstance(high, int | float) or not 0 < high <= 1:
        raise ConfigError(f"{where}: [queue] high_score must be a score above 0 and at most 1, got {high!r}")
    return QueueRules(
        inbound_bulk_labels=checked, queue_inbound=inbound, quoted_only=quoted,
        high_score=float(high) if override else None,
        high_score_labels=_labels(queue, "high_score_labels", where, frozenset(HARASSMENT_LABELS)),
    )
