"""Progress with ``verbose``: one compact bar per fit, bars for long scoring
and sampling, per-epoch lines only with ``verbose >= 2``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sklearn_lgf import LGFDensity, MAFDensity
from sklearn_lgf.nn import evaluation

X = np.random.RandomState(0).normal(size=(200, 2))
TINY = dict(n_layers=1, hidden_layer_sizes=(8,), max_iter=4, random_state=0)


@pytest.fixture
def no_delay(monkeypatch):
    """Show scoring bars at once (they normally wait a second)."""
    monkeypatch.setattr("sklearn_lgf._progress.SCORE_BAR_DELAY", 0.0)


def test_verbose_fit_shows_one_bar(capsys, tiny_budget):
    MAFDensity(**TINY, verbose=1).fit(X)
    captured = capsys.readouterr()
    assert "Epoch" not in captured.out and captured.out == ""
    # One bar, redrawn in place ("\r"), ended by a single newline.
    assert captured.err.count("\n") == 1
    final = captured.err.split("\r")[-1]
    assert final.startswith("MAFDensity fit: 100%")
    assert "4/4" in final and "loss=" in final and "val=" in final


def test_not_verbose_is_silent(capsys, tiny_budget):
    est = LGFDensity(**TINY, n_importance_samples=4).fit(X)
    est.score_samples(X)
    est.sample(10, random_state=0)
    assert capsys.readouterr() == ("", "")


def test_verbose_2_prints_lines_and_no_bar(capsys, tiny_budget):
    MAFDensity(**TINY, verbose=2).fit(X)
    captured = capsys.readouterr()
    assert len([line for line in captured.out.splitlines() if "Epoch" in line]) == 4
    assert captured.err == ""


@pytest.mark.parametrize("method", ["score_samples", "elbo"])
def test_long_scoring_shows_a_bar_by_chunk_and_the_same_values(
    method, capsys, no_delay, monkeypatch, tiny_budget
):
    rows = np.random.RandomState(1).normal(size=(3000, 2))
    est = LGFDensity(**TINY, n_importance_samples=16).fit(X)
    quiet = getattr(est, method)(rows)
    capsys.readouterr()
    # Segments of one chunk, so that 3000 rows take several updates.
    chunk = est.model_.scoring_layout(torch.device("cpu"), 16)[0]
    monkeypatch.setattr("sklearn_lgf._rows.SCORE_SEGMENT_MODEL_ROWS", chunk * 16)
    est.set_params(verbose=1)
    calls = []
    name = "log_prob" if method == "score_samples" else "elbo"
    estimate = getattr(evaluation, name)
    monkeypatch.setattr(
        evaluation,
        name,
        lambda model, x, **kw: calls.append(len(x)) or estimate(model, x, **kw),
    )
    shown = getattr(est, method)(rows)
    err = capsys.readouterr().err
    # One chunk a segment: an update per chunk. A row's value does not
    # depend on the split.
    assert calls == [chunk] * (3000 // chunk) + [3000 % chunk]
    assert len(calls) > 5
    np.testing.assert_array_equal(shown, quiet)
    assert f"LGFDensity {method}" in err


def test_sampling_shows_a_bar(capsys, no_delay, tiny_budget):
    est = MAFDensity(**TINY).fit(X)
    quiet = est.sample(100, random_state=0)
    est.set_params(verbose=1)
    capsys.readouterr()
    np.testing.assert_array_equal(est.sample(100, random_state=0), quiet)
    assert "MAFDensity sample" in capsys.readouterr().err


def test_cli_score_and_sample_show_a_bar_unless_quiet(
    tmp_path, capsys, no_delay, tiny_budget
):
    from sklearn_lgf.cli import main
    from sklearn_lgf.model_io import save_model

    model = tmp_path / "m.pt"
    save_model(MAFDensity(**TINY).fit(X), model)
    data = tmp_path / "x.npy"
    np.save(data, X)
    for command in (
        ["score", str(model), str(data)],
        ["sample", str(model), "-n", "50"],
    ):
        assert main(command) == 0
        loud = capsys.readouterr()
        assert "MAFDensity" in loud.err  # the bar's label
        assert main([*command, "--quiet", "--threads", "1"]) == 0
        quiet = capsys.readouterr()
        assert quiet.err == ""
        if command[0] == "score":
            assert quiet.out == loud.out  # the bar does not change the values
