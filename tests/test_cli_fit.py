"""``sklearn-lgf fit``: messages in the command line's words, Ctrl-C saves
the best model so far, progress as one bar, threads as asked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sklearn_lgf.cli import main
from sklearn_lgf.cli._fitting import FIT_OPTION_PARAMETERS
from sklearn_lgf.cli._messages import in_cli_words
from sklearn_lgf.model_io import load_model
from sklearn_lgf.nn.flow import Flow

TINY = ["--n-layers", "2", "--hidden-layer-sizes", "16", "--random-state", "0"]


@pytest.fixture
def data(tmp_path):
    rng = np.random.RandomState(0)
    path = tmp_path / "data.csv"
    rows = rng.normal(size=(300, 2))
    path.write_text("a,b\n" + "".join(f"{x!r},{y!r}\n" for x, y in rows.tolist()))
    return path


def fit(data, output, *extra):
    return main(["fit", str(data), "--model", "maf", *TINY, *extra, "-o", str(output)])


def test_parameter_names_become_flags():
    text = (
        "MAFDensity reached max_iter=3 epochs; consider increasing max_iter. "
        "learning_rate_init=10 is probably too high: e.g. learning_rate_init=1. "
        "(n_threads, max_iter_x, learning_rate='adaptive', u_dim, univariate)"
    )
    assert in_cli_words(text, FIT_OPTION_PARAMETERS) == (
        "MAFDensity reached --max-iter 3 epochs; consider increasing --max-iter. "
        "--learning-rate-init 10 is probably too high: e.g. --learning-rate-init 1. "
        "(--threads, max_iter_x, --learning-rate 'adaptive', --u-dim, --univariate)"
    )


def test_fit_flags_are_the_parameter_names():
    from sklearn_lgf import LGFDensity
    from sklearn_lgf.cli._messages import cli_flag

    parameters = LGFDensity().get_params()
    for option, parameter in FIT_OPTION_PARAMETERS.items():
        assert parameter in parameters
        if option != "threads":  # the flag of every command, not only fit's
            assert cli_flag(option) == cli_flag(parameter)


@pytest.mark.parametrize("schedule", ["adaptive", "cosine"])
def test_the_learning_rate_schedule_from_the_command_line(data, tmp_path, schedule):
    output = tmp_path / "model.pt"
    args = ["--learning-rate", schedule, "--learning-rate-init", "0.002"]
    assert fit(data, output, *args, "--max-iter", "2", "--quiet") == 0
    params = load_model(output).get_params()
    assert params["learning_rate"] == schedule
    assert params["learning_rate_init"] == 0.002
    assert fit(data, output, "--learning-rate", "linear", "--quiet") == 2


def test_a_number_for_the_schedule_is_refused(data, tmp_path, capsys):
    output = tmp_path / "model.pt"
    assert fit(data, output, "--learning-rate", "1e-3", "--quiet") == 2
    err = capsys.readouterr().err
    assert "--learning-rate names the learning-rate schedule since 0.2.0" in err
    assert "write --learning-rate-init 0.001" in err
    assert not output.exists()


def test_schedule_is_the_old_name_of_learning_rate(data, tmp_path, capsys):
    output = tmp_path / "model.pt"
    assert fit(data, output, "--schedule", "cosine", "--max-iter", "2", "-q") == 0
    err = capsys.readouterr().err
    assert (
        "sklearn-lgf: warning: --schedule is deprecated and will be removed in "
        "0.3.0: write --learning-rate cosine"
    ) in err
    assert load_model(output).get_params()["learning_rate"] == "cosine"
    both = ["--schedule", "cosine", "--learning-rate", "adaptive", "-q"]
    assert fit(data, tmp_path / "m.pt", *both) == 2
    assert "give only --learning-rate" in capsys.readouterr().err


def test_divergence_names_the_flag(data, tmp_path, capsys):
    output = tmp_path / "model.pt"
    assert fit(data, output, "--learning-rate-init", "10", "--quiet") == 1
    err = capsys.readouterr().err
    (line,) = err.strip().splitlines()
    assert line.startswith("sklearn-lgf: error: training failed: MAFDensity")
    assert "--learning-rate-init 10 is probably too high" in line
    assert "try a smaller one, e.g. --learning-rate-init 1" in line
    assert "learning_rate_init" not in line
    assert not output.exists()


def test_spline_flows_from_the_command_line(data, tmp_path, capsys):
    output = tmp_path / "nsf.pt"
    args = ["--univariate", "spline", "--n-bins", "4", "--max-iter", "2", "--quiet"]
    assert fit(data, output, *args) == 0
    model = load_model(output)
    assert model.get_params()["univariate"] == "spline"
    assert model.get_params()["n_bins"] == 4
    assert main(["score", str(output), str(data), "--quiet"]) == 0
    capsys.readouterr()
    scores = tmp_path / "scores.csv"
    assert main(["score", str(output), str(data), "--std", "-o", str(scores)]) == 0
    table = pd.read_csv(scores)
    assert list(table.columns) == ["log_density", "std"] and (table["std"] == 0).all()
    assert fit(data, tmp_path / "m.pt", "--n-bins", "4", "--quiet") == 2
    err = capsys.readouterr().err
    assert "--n-bins only applies to --univariate spline" in err
    assert "(the maf model's univariate is affine)" in err
    # LGFDensity's default univariate is the spline: --n-bins alone applies.
    lgf = ["--model", "lgf", *TINY, "--n-bins", "4", "--max-iter", "1", "--quiet"]
    assert main(["fit", str(data), *lgf, "-o", str(tmp_path / "lgf.pt")]) == 0
    assert load_model(tmp_path / "lgf.pt").get_params()["n_bins"] == 4


def test_coupling_from_the_command_line(data, tmp_path):
    output = tmp_path / "realnvp.pt"
    args = ["--conditioner", "coupling", "--max-iter", "1", "--quiet"]
    assert fit(data, output, *args) == 0
    params = load_model(output).get_params()
    assert (params["conditioner"], params["univariate"]) == ("coupling", "affine")


def test_base_is_the_old_name_of_conditioner_and_univariate(data, tmp_path, capsys):
    output = tmp_path / "model.pt"
    args = ["--base", "spline-coupling", "--n-bins", "4", "--max-iter", "1", "-q"]
    assert fit(data, output, *args) == 0
    assert (
        "sklearn-lgf: warning: --base is deprecated and will be removed in "
        "0.3.0: write --conditioner coupling --univariate spline"
    ) in capsys.readouterr().err.splitlines()
    params = load_model(output).get_params()
    assert params["base"] == "deprecated"
    assert (params["conditioner"], params["univariate"]) == ("coupling", "spline")
    both = ["--base", "made", "--univariate", "spline", "-q"]
    assert fit(data, tmp_path / "m.pt", *both) == 2
    err = capsys.readouterr().err
    assert "--base made means --univariate affine, but --univariate spline" in err
    assert not (tmp_path / "m.pt").exists()


def test_warnings_name_the_flags(data, tmp_path, capsys):
    assert fit(data, tmp_path / "m.pt", "--max-iter", "2", "--quiet") == 0
    err = capsys.readouterr().err
    assert "reached --max-iter 2 epochs" in err and "increasing --max-iter." in err
    assert "max_iter" not in err


def test_progress_is_one_bar(data, tmp_path, capsys):
    assert fit(data, tmp_path / "m.pt", "--max-iter", "3") == 0
    captured = capsys.readouterr()
    assert "Epoch" not in captured.out and "Saved MAFDensity" in captured.out
    # One line (redrawn in place with "\r"), not one line per epoch.
    bar = [line for line in captured.err.split("\n") if "MAFDensity fit" in line]
    assert len(bar) == 1 and "3/3" in bar[0].split("\r")[-1]


def interrupt_at_call(monkeypatch, call):
    original = Flow.training_loss
    count = {"n": 0}

    def patched(self, *args, **kwargs):
        count["n"] += 1
        if count["n"] == call:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Flow, "training_loss", patched)


def test_ctrl_c_saves_the_best_model_so_far(data, tmp_path, capsys, monkeypatch):
    # 270 training rows in batches of 27 ("auto"): 10 steps an epoch; Ctrl-C
    # in the middle of epoch 5.
    interrupt_at_call(monkeypatch, 4 * 10 + 5)
    output = tmp_path / "model.pt"
    assert fit(data, output, "--quiet") == 130
    monkeypatch.undo()
    err = capsys.readouterr().err.strip().splitlines()
    model = load_model(output)
    best = int(np.argmax(model.validation_scores_)) + 1
    assert err[-1] == (
        f"sklearn-lgf: interrupted after 4 epochs: saved the best model so far "
        f"(the weights of epoch {best}, validation log-likelihood "
        f"{model.best_validation_score_:.4f}) to {output}"
    )
    assert model.n_iter_ == 4 and len(model.loss_curve_) == 4
    assert list(model.feature_names_in_) == ["a", "b"]
    rows = pd.DataFrame(np.zeros((3, 2)), columns=["a", "b"])
    assert np.isfinite(model.score_samples(rows)).all()


def test_ctrl_c_before_the_first_epoch_saves_nothing(
    data, tmp_path, capsys, monkeypatch
):
    interrupt_at_call(monkeypatch, 3)
    output = tmp_path / "model.pt"
    assert fit(data, output, "--quiet") == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "sklearn-lgf: interrupted before the first epoch ended; nothing saved"
    )
    assert not output.exists()


def test_threads_option_is_used_and_not_saved(data, tmp_path, monkeypatch):
    import torch

    seen = []
    original = Flow.training_loss

    def recording(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Flow, "training_loss", recording)
    output = tmp_path / "model.pt"
    before = torch.get_num_threads()
    assert fit(data, output, "--max-iter", "1", "--threads", "2", "--quiet") == 0
    assert set(seen) == {2} and torch.get_num_threads() == before
    assert load_model(output).n_threads == "auto"


def test_score_std_of_an_lgf(data, tmp_path, capsys):
    model = tmp_path / "lgf.pt"
    fit_args = ["--max-iter", "2", "--n-importance-samples", "8", "--quiet"]
    command = ["fit", str(data), "--model", "lgf", *TINY, *fit_args, "-o", str(model)]
    assert main(command) == 0
    scores = tmp_path / "scores.csv"
    assert main(["score", str(model), str(data), "--std", "-o", str(scores)]) == 0
    table = pd.read_csv(scores)
    assert (table["std"] > 0).all() and np.isfinite(table["log_density"]).all()
    log_p, std = load_model(model).score_samples(pd.read_csv(data), return_std=True)
    np.testing.assert_allclose(table["log_density"], log_p, rtol=1e-6)
    np.testing.assert_allclose(table["std"], std, rtol=1e-6)
