"""Download the public corpora from their canonical sources into ``data/raw/<corpus>/`` and verify them.

The list of files, their canonical URLs, sha256 digests, licences and citations lives in
``pipelines/fetch_sources.yaml``. The written layout is the one of ``../shared/datasets`` (see its
MANIFEST.md), so ``data.datasets_root: data/raw`` works with every adapter. Three kinds of file need a
step between download and disk, because the shared copy was repacked (MANIFEST preamble):

* ``store: gzip`` - the upstream file is stored gzip-compressed (ToxiGen prompts);
* ``member: <name>`` - one file is taken out of an upstream zip (MLMA);
* ``tree: <folder>`` - one folder of an upstream tar.gz is repacked as its own tar.gz (Enron-Spam).

``sha256`` always digests the content as published (the uncompressed file, the zip member, or the
``sha256sum``-style listing of the folder's files), so the same digest verifies a download and a file
already on disk. A mismatch fails that corpus only; nothing of it is written and the others go on.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from mailguard.errors import ConfigError, InputError

log = logging.getLogger(__name__)

SPEC_PATH = Path(__file__).with_name("fetch_sources.yaml")
_BLOCK = 1 << 20


@dataclass(frozen=True)
class FileSpec:
    """One file of a corpus: where it lands, where it comes from, and how it is verified."""

    path: str  # relative to data/raw/<corpus>/
    source: str  # relative to the corpus's base_url (or to <mirror>/<corpus>/)
    sha256: str
    store: str = ""  # "" (as downloaded) or "gzip"
    member: str = ""  # file to take out of a downloaded zip
    tree: str = ""  # folder to take out of a downloaded tar(.gz) and repack as tar.gz
    strip_components: int = 0  # leading path parts to drop from the archive's member names (tree only)


@dataclass(frozen=True)
class CorpusInfo:
    """A corpus's metadata: use (training / evaluation), licence, citation and files."""

    name: str
    use: str
    licence: str
    citation: str
    base_url: str
    files: tuple[FileSpec, ...]


@dataclass(frozen=True)
class FetchResult:
    """The outcome for one corpus: files in place (``ok``) or the reason it failed (``error``)."""

    corpus: str
    ok: bool
    licence: str
    citation: str
    use: str
    files: tuple[Path, ...] = ()
    downloaded: int = 0  # files fetched this run; the rest were already present and verified
    error: str = ""


def load_spec(path: Path | None = None) -> dict[str, CorpusInfo]:
    """Return the corpora described in ``path`` (default: pipelines/fetch_sources.yaml); raise ``ConfigError`` if invalid."""
    path = SPEC_PATH if path is None else Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read corpus source list {path}: {e}") from e
    corpora = raw.get("corpora") if isinstance(raw, dict) else None
    if not isinstance(corpora, dict):
        raise ConfigError(f"{path} must hold a 'corpora' mapping")
    out: dict[str, CorpusInfo] = {}
    for name, entry in corpora.items():
        try:
            files = tuple(FileSpec(**f) for f in entry["files"])
            out[name] = CorpusInfo(
                name=name,
                use=str(entry.get("use", "training")),
                licence=str(entry["licence"]).strip(),
                citation=str(entry["citation"]).strip(),
                base_url=str(entry["base_url"]),
                files=files,
            )
        except (KeyError, TypeError) as e:
            raise ConfigError(f"{path}: corpus {name!r} is incomplete or has an unknown key: {e}") from e
    return out


@lru_cache(maxsize=1)
def corpus_info() -> dict[str, CorpusInfo]:
    """Return the default corpus list (cached): licences and citations for the dataset card and the CLI."""
    return load_spec()


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def _strip(name: str, components: int) -> PurePosixPath | None:
    parts = PurePosixPath(name).parts[components:]
    return PurePosixPath(*parts) if parts else None


def tree_digest(archive: Path, folder: str, strip_components: int = 0, repack_to: Path | None = None) -> str:
    """Return the sha256 of the ``sha256sum``-style listing of ``folder``'s files inside the tar ``archive``.

    Member names are taken after dropping ``strip_components`` leading parts. With ``repack_to``, the
    folder's files are also written there as a deterministic tar.gz (names start with ``folder/``).
    """
    lines: list[str] = []
    with contextlib.ExitStack() as stack:
        out_tar: tarfile.TarFile | None = None
        if repack_to is not None:
            out_gz = stack.enter_context(gzip.GzipFile(repack_to, mode="wb", mtime=0))
            out_tar = stack.enter_context(tarfile.open(fileobj=out_gz, mode="w", format=tarfile.PAX_FORMAT))
        tar = stack.enter_context(tarfile.open(archive, mode="r|*"))
        for member in tar:
            name = _strip(member.name, strip_components)
            if not member.isfile() or name is None or name.parts[0] != folder:
                continue
            handle = tar.extractfile(member)
            data = handle.read() if handle is not None else b""
            lines.append(f"{hashlib.sha256(data).hexdigest()}  {name.as_posix()}")
            if out_tar is not None:
                info = tarfile.TarInfo(name.as_posix())
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                out_tar.addfile(info, io.BytesIO(data))
    if not lines:
        raise InputError(f"archive {archive} has no files under {folder}/")
    return hashlib.sha256(("\n".join(sorted(lines, key=lambda s: s[66:])) + "\n").encode("utf-8")).hexdigest()


def content_digest(path: Path, spec: FileSpec) -> str:
    """Return the digest of a stored corpus file as ``spec.sha256`` records it (see the module docstring)."""
    if spec.tree:
        return tree_digest(path, spec.tree)
    if spec.store == "gzip":
        digest = hashlib.sha256()
        with gzip.open(path, "rb") as fh:
            for block in iter(lambda: fh.read(_BLOCK), b""):
                digest.update(block)
        return digest.hexdigest()
    return sha256_file(path)


def source_url(info: CorpusInfo, spec: FileSpec, mirror: str | None) -> str:
    """Return where ``spec`` is downloaded from: ``<mirror>/<corpus>/<source>`` or ``base_url + source``."""
    if mirror:
        return f"{mirror.rstrip('/')}/{info.name}/{spec.source}"
    return info.base_url + spec.source


def _download(url: str, folder: Path, cache: dict[str, Path]) -> Path:
    if url in cache:
        return cache[url]
    target = folder / f"download-{len(cache)}"
    try:
        with urllib.request.urlopen(url, timeout=120) as response, open(target, "wb") as out:
            shutil.copyfileobj(response, out, _BLOCK)
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise InputError(f"cannot download {url}: {reason}") from e
    cache[url] = target
    return target


def _stage(spec: FileSpec, download: Path, staged: Path, url: str) -> None:
    """Write the stored form of ``download`` to ``staged``; raise ``InputError`` if it does not verify."""
    if spec.tree:
        got = tree_digest(download, spec.tree, spec.strip_components, repack_to=staged)
    elif spec.member:
        try:
            with zipfile.ZipFile(download) as archive:
                data = archive.read(spec.member)
        except (zipfile.BadZipFile, KeyError, OSError) as e:
            raise InputError(f"cannot take {spec.member} out of {url}: {e}") from e
        got = hashlib.sha256(data).hexdigest()
        staged.write_bytes(data)
    else:
        got = sha256_file(download)
        if spec.store == "gzip":
            with open(download, "rb") as src, gzip.GzipFile(staged, mode="wb", mtime=0) as dst:
                shutil.copyfileobj(src, dst, _BLOCK)
        else:
            shutil.copyfile(download, staged)
    if got != spec.sha256:
        raise InputError(f"checksum mismatch for {spec.path} from {url}: expected sha256 {spec.sha256}, got {got}")


def fetch_corpus(
    info: CorpusInfo, dest: Path, mirror: str | None, workdir: Path, cache: dict[str, Path]
) -> FetchResult:
    """Return the result of fetching one corpus into ``dest/<corpus>/`` (all its files, or none of them)."""
    target_dir = dest / info.name
    staging = Path(tempfile.mkdtemp(prefix=f".fetch-{info.name}-", dir=dest))
    moves: list[tuple[Path, Path]] = []
    try:
        for spec in info.files:
            final = target_dir / spec.path
            if final.is_file():
                try:
                    if content_digest(final, spec) == spec.sha256:
                        continue
                except (OSError, EOFError, InputError, tarfile.TarError, zlib.error):
                    pass  # unreadable or stale: download it again
            url = source_url(info, spec, mirror)
            staged = staging / f"file-{len(moves)}"
            _stage(spec, _download(url, workdir, cache), staged, url)
            moves.append((staged, final))
        for staged, final in moves:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, final)
    except (InputError, OSError, EOFError, tarfile.TarError, zlib.error) as e:
        log.error("%s: %s", info.name, e)
        return FetchResult(info.name, False, info.licence, info.citation, info.use, error=str(e))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    files = tuple(target_dir / spec.path for spec in info.files)
    log.info("%s: %d files in place (%d downloaded)", info.name, len(files), len(moves))
    return FetchResult(info.name, True, info.licence, info.citation, info.use, files=files, downloaded=len(moves))


def fetch(
    dest: Path,
    sources: list[str] | None = None,
    mirror: str | None = None,
    *,
    spec_path: Path | None = None,
) -> list[FetchResult]:
    """Return one result per corpus after downloading and verifying ``sources`` (default: all) into ``dest``.

    ``mirror`` replaces each corpus's base URL by ``<mirror>/<corpus>/`` (e.g. ``file:///srv/mirror``).
    Raise ``ConfigError`` for an unknown corpus name; download and checksum failures are per-corpus results.
    """
    spec: dict[str, Any] = load_spec(spec_path)
    names = list(spec) if not sources else list(dict.fromkeys(sources))
    unknown = [n for n in names if n not in spec]
    if unknown:
        raise ConfigError(f"unknown corpora {unknown}; known: {', '.join(spec)}")
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create {dest}: {e.strerror or e}") from e
    cache: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix=".fetch-downloads-", dir=dest) as workdir:
        return [fetch_corpus(spec[name], dest, mirror, Path(workdir), cache) for name in names]
