"""The student family: distilled from a tiny transformer, copies its decisions, saves as arrays, scores without
torch, and screens windows in front of the teacher in a cascade."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mailguard.errors import ModelFormatError
from mailguard.segments import WindowConfig
from mailguard.taxonomy import LABELS
from models import load_classifier
from models.cascade import CascadeClassifier
from models.student import WEIGHTS_FILE, StudentClassifier, StudentWeights, student_logits
from models.transformer import TransformerClassifier
from pipelines.distill import DistillConfig, StudentNet, distill, distill_units, teacher_token_embeddings

_spec = importlib.util.spec_from_file_location("tiny_base", Path(__file__).parent / "fixtures/transformer/tiny_base.py")
tiny = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(tiny)  # type: ignore[union-attr]

AGE, SOL = LABELS.index("age"), LABELS.index("solicitation")
LONG = "Thanks for the update. " * 40 + "Please buy my crypto course now."  # many sentence windows
# Small enough to train in a second or two, large enough to copy the teacher on eight texts.
TINY_DISTILL = DistillConfig(epochs=40, batch_size=8, learning_rate=3e-2, holdout_fraction=0.0, patience=100,
                             num_threads=1)


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("teacher")
    Y = tiny.labels()
    clf = TransformerClassifier(base_model=str(tiny.build_tiny_base(root / "base")), epochs=25, learning_rate=1e-2,
                                batch_size=4, patience=100, num_threads=1)
    clf.fit(tiny.TEXTS, Y, X_val=tiny.TEXTS, Y_val=Y)
    clf.set_thresholds(np.full(len(LABELS), 0.5)).set_scoring_unit(WindowConfig(context=0))
    return clf.save(root / "transformer")


@pytest.fixture(scope="module")
def distilled(teacher_dir: Path) -> tuple[TransformerClassifier, StudentClassifier, dict]:
    teacher = load_classifier(teacher_dir)
    student, report = distill(teacher, tiny.TEXTS, teacher_token_embeddings(teacher_dir), TINY_DISTILL)
    return teacher, student, report  # type: ignore[return-value]


def test_student_copies_the_teachers_decisions(distilled: tuple) -> None:
    teacher, student, report = distilled
    teacher_flags = teacher.score_texts(tiny.TEXTS).proba >= teacher.thresholds_
    assert teacher_flags[:, [AGE, SOL]].any(axis=0).all()  # the teacher flags both labels somewhere
    np.testing.assert_array_equal(student.score_texts(tiny.TEXTS).proba >= student.thresholds_, teacher_flags)
    assert report["units"] == len(tiny.TEXTS) and report["epochs"]
    assert student.window_config_ == teacher.window_config_  # reads mail as the teacher does
    json.dumps(report)  # numbers only: loggable


def test_numpy_scoring_is_the_trained_network(teacher_dir: Path) -> None:
    import torch

    from models.tokens import pad_batch

    teacher = load_classifier(teacher_dir)
    table = teacher_token_embeddings(teacher_dir)
    net = StudentNet(table, hidden=8, max_token_logit=4.0)
    with torch.no_grad():
        net.token_logit.weight.normal_()  # pooling weights away from their start, so the weighted mean counts
    units = [np.array([1, *u.ids, 2]) for u in teacher.tokenizer_.encode_batch(tiny.TEXTS[:3])]
    ids, mask = pad_batch(units, pad_id=0)
    with torch.no_grad():
        expected = net(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    np.testing.assert_allclose(student_logits(net.weights(), units), expected, atol=1e-5)


def test_saved_student_scores_the_same_after_reload(distilled: tuple, tmp_path: Path) -> None:
    _, student, _ = distilled
    student.save(tmp_path / "student")
    assert (tmp_path / "student" / WEIGHTS_FILE).is_file()
    assert not list((tmp_path / "student").glob("*.pkl")) and not list((tmp_path / "student").glob("*.joblib"))
    reloaded = load_classifier(tmp_path / "student")
    assert isinstance(reloaded, StudentClassifier)
    np.testing.assert_array_equal(reloaded.thresholds_, student.thresholds_)
    assert reloaded.window_config_ == student.window_config_
    texts = [*tiny.TEXTS, LONG, ""]
    np.testing.assert_array_equal(reloaded.score_texts(texts).proba, student.score_texts(texts).proba)


def test_saved_student_scores_without_torch_or_transformers(distilled: tuple, tmp_path: Path) -> None:
    _, student, _ = distilled
    student.save(tmp_path / "student")
    expected = student.score_texts([LONG]).proba
    code = (
        "import sys, json; from models import load_classifier; "
        f"c = load_classifier({str(tmp_path / 'student')!r}); p = c.score_texts([{LONG!r}]).proba; "
        "print(json.dumps([c.family, 'torch' in sys.modules, 'transformers' in sys.modules, p.tolist()]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path.cwd())
    family, torch_imported, transformers_imported, proba = json.loads(out.stdout.strip().splitlines()[-1])
    assert family == "student" and not torch_imported and not transformers_imported
    np.testing.assert_allclose(proba, expected, atol=1e-12)


def test_load_refuses_a_student_without_its_weights(distilled: tuple, tmp_path: Path) -> None:
    _, student, _ = distilled
    student.save(tmp_path / "student")
    (tmp_path / "student" / WEIGHTS_FILE).unlink()
    with pytest.raises(ModelFormatError, match=WEIGHTS_FILE):
        load_classifier(tmp_path / "student")


def test_weights_that_do_not_fit_together_are_refused() -> None:
    good = dict(table=np.zeros((5, 4)), token_logit=np.zeros(5), w1=np.zeros((8, 3)), b1=np.zeros(3),
                w2=np.zeros((3, len(LABELS))), b2=np.zeros(len(LABELS)))
    StudentWeights(**good).check()  # type: ignore[arg-type]
    with pytest.raises(ModelFormatError, match="w1"):
        StudentWeights(**{**good, "w1": np.zeros((4, 3))}).check()  # type: ignore[arg-type]


def test_a_student_is_distilled_not_fitted() -> None:
    with pytest.raises(NotImplementedError, match="mailguard package student"):
        StudentClassifier().fit(tiny.TEXTS, tiny.labels())


def test_distillation_units_are_distinct_windows_capped_per_text() -> None:
    long = " ".join(f"Sentence number {i} of a long ordinary message." for i in range(30))
    units, source = distill_units(["hello there, how are you?", long, "hello there, how are you?"],
                                  WindowConfig(context=0), DistillConfig(max_windows_per_text=4))
    assert len(units) == 5 and len(set(units)) == 5  # the repeated text gives no second unit
    assert list(source).count(1) == 4 and 2 not in source


def test_cascade_with_a_student_screen_sends_only_suspicious_windows_to_the_teacher(distilled: tuple) -> None:
    teacher, student, _ = distilled
    cascade = CascadeClassifier.from_fitted(student, teacher, tiny.TEXTS, tiny.labels(), target_recall=1.0)
    mail = "\n\n".join(["the report is attached"] * 12 + ["please buy my crypto course now"])
    called: list[int] = []
    original = teacher.predict_proba
    teacher.predict_proba = lambda X: called.append(len(X)) or original(X)  # type: ignore[method-assign]
    try:
        scored = cascade.score_texts([mail, *tiny.TEXTS])
    finally:
        del teacher.predict_proba
    flags = scored.proba >= cascade.thresholds_
    np.testing.assert_array_equal(flags[1:], teacher.score_texts(tiny.TEXTS).proba >= teacher.thresholds_)
    assert flags[0, SOL] and "crypto" in scored.evidence[0]["solicitation"][0].text
    assert sum(called) < 12 + 1 + len(tiny.TEXTS)  # the ordinary windows never reached the teacher
