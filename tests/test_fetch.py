"""fetch(): download corpora from a (file://) mirror, verify sha256, write the shared-datasets layout."""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mailguard.errors import ConfigError
from pipelines.fetch import FileSpec, content_digest, fetch, load_spec
from pipelines.sources import load_source

FIXTURES = Path(__file__).parent / "fixtures" / "datasets"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _build_mirror(mirror: Path) -> dict:
    """Lay out upstream-shaped files under ``mirror/<corpus>/`` from the fixtures; return a matching spec."""
    corpora: dict = {}

    def corpus(name: str, files: list[dict]) -> None:
        for f in files:
            f["sha256"] = content_digest(FIXTURES / name / f["path"], FileSpec(sha256="", **f))
        corpora[name] = {
            "use": "training",
            "licence": f"{name} licence",
            "citation": f"{name} citation",
            "base_url": "https://invalid.example/never-used/",
            "files": files,
        }

    # plain file
    (mirror / "sms_spam_collection" / "smsspamcollection").mkdir(parents=True)
    shutil.copy(
        FIXTURES / "sms_spam_collection" / "SMSSpamCollection", mirror / "sms_spam_collection" / "smsspamcollection"
    )
    corpus("sms_spam_collection", [{"path": "SMSSpamCollection", "source": "smsspamcollection/SMSSpamCollection"}])
    # upstream text stored gzipped
    (mirror / "toxigen_prompts" / "prompts").mkdir(parents=True)
    files = []
    for gz in sorted((FIXTURES / "toxigen_prompts").glob("*.txt.gz")):
        (mirror / "toxigen_prompts" / "prompts" / gz.name[:-3]).write_bytes(gzip.decompress(gz.read_bytes()))
        files.append({"path": gz.name, "source": f"prompts/{gz.name[:-3]}", "store": "gzip"})
    corpus("toxigen_prompts", files)
    # a member of an upstream zip
    (mirror / "mlma_hate_speech_en").mkdir()
    with zipfile.ZipFile(mirror / "mlma_hate_speech_en" / "hate_speech_mlma.zip", "w") as zf:
        zf.write(
            FIXTURES / "mlma_hate_speech_en" / "en_dataset_with_stop_words.csv",
            "hate_speech_mlma/en_dataset_with_stop_words.csv",
        )
        zf.writestr("hate_speech_mlma/other.csv", "not,needed\n")
    corpus(
        "mlma_hate_speech_en",
        [
            {
                "path": "en_dataset_with_stop_words.csv",
                "source": "hate_speech_mlma.zip",
                "member": "hate_speech_mlma/en_dataset_with_stop_words.csv",
            }
        ],
    )
    # folders of one upstream repository archive, repacked per subset
    (mirror / "enron_spam").mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as out:
        for subset in ("enron1", "enron3"):
            with tarfile.open(FIXTURES / "enron_spam" / f"{subset}.tar.gz") as src:
                for member in src.getmembers():
                    data = src.extractfile(member).read() if member.isfile() else None
                    member.name = f"enron_dataset-{COMMIT}/{member.name}"
                    out.addfile(member, io.BytesIO(data) if data is not None else None)
    (mirror / "enron_spam" / f"{COMMIT}.tar.gz").write_bytes(buf.getvalue())
    corpus(
        "enron_spam",
        [
            {"path": f"{s}.tar.gz", "source": f"{COMMIT}.tar.gz", "tree": s, "strip_components": 1}
            for s in ("enron1", "enron3")
        ],
    )
    return {"corpora": corpora}


@pytest.fixture()
def mirror(tmp_path: Path) -> tuple[str, Path]:
    root = tmp_path / "mirror"
    spec = _build_mirror(root)
    spec_path = tmp_path / "sources.yaml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return root.as_uri(), spec_path


def test_fetch_from_a_mirror_writes_a_layout_the_adapters_read(mirror: tuple[str, Path], tmp_path: Path) -> None:
    url, spec_path = mirror
    dest = tmp_path / "raw"
    results = fetch(dest, None, url, spec_path=spec_path)
    assert [r.corpus for r in results] == [
        "sms_spam_collection",
        "toxigen_prompts",
        "mlma_hate_speech_en",
        "enron_spam",
    ]
    assert all(r.ok for r in results), [r.error for r in results]
    assert results[0].licence == "sms_spam_collection licence" and results[0].citation == "sms_spam_collection citation"
    for name in ("sms_spam_collection", "toxigen_prompts", "mlma_hate_speech_en", "enron_spam"):
        fetched, original = load_source(name, dest), load_source(name, FIXTURES)
        assert fetched.equals(original), name
    # a second run finds everything verified in place and downloads nothing
    again = fetch(dest, ["enron_spam"], url, spec_path=spec_path)
    assert again[0].ok and again[0].downloaded == 0


def test_a_checksum_mismatch_fails_that_corpus_only_and_writes_none_of_it(
    mirror: tuple[str, Path], tmp_path: Path
) -> None:
    url, spec_path = mirror
    root = Path(url.removeprefix("file://"))
    (root / "toxigen_prompts" / "prompts" / "hate_women_1k.txt").write_text("tampered\n", encoding="utf-8")
    dest = tmp_path / "raw"
    results = {r.corpus: r for r in fetch(dest, None, url, spec_path=spec_path)}
    bad = results["toxigen_prompts"]
    assert not bad.ok and "checksum mismatch" in bad.error and "hate_women_1k" in bad.error
    assert not (dest / "toxigen_prompts").exists()
    assert results["sms_spam_collection"].ok and results["enron_spam"].ok
    assert not list(dest.glob(".fetch-*"))  # no staging leftovers


def test_an_unreachable_source_is_a_per_corpus_error(mirror: tuple[str, Path], tmp_path: Path) -> None:
    url, spec_path = mirror
    results = fetch(tmp_path / "raw", ["sms_spam_collection"], url + "/nothing-here", spec_path=spec_path)
    assert not results[0].ok and "cannot download" in results[0].error


def test_unknown_corpus_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown corpora"):
        fetch(tmp_path, ["no_such_corpus"], None)


def test_cli_fetch_prints_licence_and_citation_and_exits_1_on_failure(
    mirror: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.fetch as fetch_module
    from mailguard.cli import app

    url, spec_path = mirror
    monkeypatch.setattr(fetch_module, "SPEC_PATH", spec_path)
    runner = CliRunner()
    ok = runner.invoke(
        app, ["data", "fetch", "--dest", str(tmp_path / "raw"), "--only", "sms_spam_collection", "--mirror", url]
    )
    assert ok.exit_code == 0, ok.output
    assert "licence: sms_spam_collection licence" in ok.output and "cite: sms_spam_collection citation" in ok.output
    bad = runner.invoke(
        app,
        ["data", "fetch", "--dest", str(tmp_path / "raw2"), "--only", "sms_spam_collection", "--mirror", url + "/x"],
    )
    assert bad.exit_code == 1 and "FAILED" in bad.output


def test_the_canonical_source_list_covers_every_corpus_with_licence_and_citation() -> None:
    spec = load_spec()
    assert set(spec) == {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert spec["crows_pairs"].use == "evaluation"
    for info in spec.values():
        assert info.licence and info.citation and info.base_url.startswith("https://")
        assert all(len(f.sha256) == 64 for f in info.files)


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared corpora not present on this machine")
def test_recorded_checksums_match_the_shared_corpora() -> None:
    mismatched = [
        f"{name}/{f.path}"
        for name, info in load_spec().items()
        for f in info.files
        if content_digest(SHARED / name / f.path, f) != f.sha256
    ]
    assert not mismatched
