"""End-to-end tests of the ``sklearn-lgf`` command-line tool."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest

from sklearn_lgf.cli import main
from sklearn_lgf.model_io import load_model

TINY = ["--n-layers", "2", "--hidden-layer-sizes", "16", "--max-iter", "3"]
MODEL_OPTIONS = {"maf": [], "lgf": ["--u-dim", "1", "--n-importance-samples", "5"]}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _data(n: int = 120, seed: int = 0) -> np.ndarray:
    rng = np.random.RandomState(seed)
    return np.column_stack([rng.normal(0.0, 1.0, n), rng.uniform(-2.0, 5.0, n)])


def _write_csv(path, X, header=None) -> None:
    lines = [] if header is None else [",".join(header)]
    lines += [",".join(repr(float(v)) for v in row) for row in X]
    path.write_text("\n".join(lines) + "\n")


def _fit(data, model_path, kind="maf", extra=()) -> int:
    argv = ["fit", str(data), "--model", kind, *TINY, *MODEL_OPTIONS[kind]]
    argv += ["--random-state", "0", "--device", "cpu", "--quiet", "-o", str(model_path)]
    return main([*argv, *extra])


def _error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err  # one line, no traceback
    assert lines[0].startswith("sklearn-lgf: error: ")
    return lines[0]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def named_csv(workdir):
    path = workdir / "named.csv"
    _write_csv(path, _data(), header=["alpha", "beta"])
    return path


@pytest.fixture(scope="module", params=["maf", "lgf"])
def fitted(request, workdir, named_csv):
    """A model fitted by the CLI on a CSV with a header: (kind, path)."""
    model = workdir / f"{request.param}.pt"
    assert _fit(named_csv, model, request.param) == 0
    return request.param, model


# ------------------------------------------------------------ happy paths


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_fit_score_sample(fitted, named_csv, tmp_path, capsys):
    kind, model_path = fitted
    estimator = load_model(model_path)
    assert type(estimator).__name__ == {"maf": "MAFDensity", "lgf": "LGFDensity"}[kind]
    assert estimator.n_layers == 2 and estimator.hidden_layer_sizes == (16,)
    assert list(estimator.feature_names_in_) == ["alpha", "beta"]
    expected = estimator.score_samples(_data())
    capsys.readouterr()

    # score -> stdout, one exact number per line
    assert main(["score", str(model_path), str(named_csv)]) == 0
    lines = capsys.readouterr().out.splitlines()
    np.testing.assert_array_equal(np.array(lines, dtype=float), expected)

    # score -> CSV with a header
    out = tmp_path / "scores.csv"
    assert main(["score", str(model_path), str(named_csv), "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    text = out.read_text().splitlines()
    assert text[0] == "log_density"
    np.testing.assert_array_equal(np.array(text[1:], dtype=float), expected)

    # sample -> stdout, reproducible
    assert main(["sample", str(model_path), "-n", "7", "--random-state", "3"]) == 0
    rows = [line.split(",") for line in capsys.readouterr().out.splitlines()]
    np.testing.assert_array_equal(
        np.array(rows, dtype=float), estimator.sample(7, random_state=3)
    )

    # sample -> CSV whose header is the feature names; it scores back
    out = tmp_path / "samples.csv"
    assert main(["sample", str(model_path), "-n", "4", "-o", str(out)]) == 0
    text = out.read_text().splitlines()
    assert text[0] == "alpha,beta" and len(text) == 5
    assert main(["score", str(model_path), str(out)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4


def test_csv_without_header_and_npy(tmp_path, capsys):
    X = _data(80, seed=1)
    plain = tmp_path / "plain.csv"
    _write_csv(plain, X)
    array = tmp_path / "data.npy"
    np.save(array, X)
    from_csv, from_npy = tmp_path / "csv.pt", tmp_path / "npy.pt"
    assert _fit(plain, from_csv) == 0
    assert _fit(array, from_npy) == 0
    a, b = load_model(from_csv), load_model(from_npy)
    assert not hasattr(a, "feature_names_in_")
    # Same numbers, same seed: the same model whichever the file format.
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))

    capsys.readouterr()
    assert main(["score", str(from_csv), str(array)]) == 0
    np.testing.assert_array_equal(
        np.array(capsys.readouterr().out.split(), dtype=float), a.score_samples(X)
    )
    out = tmp_path / "s.csv"
    assert main(["sample", str(from_csv), "-n", "3", "-o", str(out)]) == 0
    assert out.read_text().splitlines()[0] == "x0,x1"


def test_csv_details(tmp_path):
    # blank lines skipped, spaces around numbers, a BOM, integers, quoting
    path = tmp_path / "details.csv"
    path.write_text('\ufeff"a", b\n\n1, 2.5\n 3 ,"4"\n\n-1e-3,7\n', encoding="utf-8")
    from sklearn_lgf.cli._tables import read_table

    table = read_table(str(path))
    assert table.names == ["a", "b"]
    np.testing.assert_array_equal(table.values, [[1, 2.5], [3, 4], [-1e-3, 7]])


def test_fit_shows_progress(tmp_path, named_csv, capsys):
    model = tmp_path / "m.pt"
    argv = ["fit", str(named_csv), "--model", "maf", *TINY, "--device", "cpu"]
    assert main([*argv, "-o", str(model)]) == 0
    captured = capsys.readouterr()
    assert "Saved MAFDensity" in captured.out
    assert "MAFDensity fit: 100%" in captured.err  # the progress bar
    assert "sklearn-lgf: warning: MAFDensity reached --max-iter 3" in captured.err
    assert load_model(model).verbose == 0  # progress is not part of the model


# ------------------------------------------------------------- bad input

BAD_CSVS = {
    "non-numeric": ("a,b\n1,2\n3,x\n", "row 3, column 'b' (2): 'x' is not a number"),
    "non-numeric-no-header": ("1,2\n3,4\n\n5,oops\n", "row 4, column 2: 'oops'"),
    "empty-cell": ("1,2\n,4\n", "row 2, column 1: empty cell is not a number"),
    "nan": ("a,b\n1,2\nnan,4\n", "row 3, column 'a' (1): 'nan' is not a finite"),
    "inf": ("1,2\n3,-inf\n", "row 2, column 2: '-inf' is not a finite"),
    "beyond-float32": (
        "1,2\n3,1e40\n",
        "row 2, column 2: '1e40' is beyond the float32",
    ),
    "ragged": ("1,2\n3,4\n5,6,7\n", "row 3: 3 columns, expected 2 as in row 1"),
    "empty": ("", "empty file"),
    "header-only": ("a,b\n", "no data rows"),
}


@pytest.mark.parametrize("content, expected", BAD_CSVS.values(), ids=BAD_CSVS)
def test_fit_bad_csv(tmp_path, capsys, content, expected):
    data = tmp_path / "bad.csv"
    data.write_text(content)
    model = tmp_path / "model.pt"
    assert _fit(data, model) == 2
    line = _error_line(capsys)
    assert str(data) in line and expected in line
    assert not model.exists()


def _npy_bad(tmp_path):
    inf = _data(5)
    inf[3, 1] = np.inf
    return {
        "inf": (inf, "row 4, column 2: inf is not a finite number"),
        "1-d": (np.arange(5.0), "expected a 2-D array"),
        "strings": (np.array([["a", "b"]]), "expected a numeric array"),
        "empty": (np.zeros((0, 2)), "empty array"),
        "object": (np.array([[1, None]], dtype=object), "not a numeric .npy array"),
    }


@pytest.mark.parametrize("case", ["inf", "1-d", "strings", "empty", "object"])
def test_fit_bad_npy(tmp_path, capsys, case):
    array, expected = _npy_bad(tmp_path)[case]
    data = tmp_path / "bad.npy"
    np.save(data, array, allow_pickle=True)
    model = tmp_path / "model.pt"
    assert _fit(data, model) == 2
    line = _error_line(capsys)
    assert str(data) in line and expected in line
    assert not model.exists()


def test_fit_missing_file(tmp_path, capsys):
    model = tmp_path / "model.pt"
    assert _fit(tmp_path / "absent.csv", model) == 2
    line = _error_line(capsys)
    assert "absent.csv: no such file" in line
    assert not model.exists()


def test_lgf_only_option_with_maf(named_csv, tmp_path, capsys):
    model = tmp_path / "m.pt"
    argv = ["fit", str(named_csv), "--model", "maf", "--u-dim", "2", "-o", str(model)]
    assert main(argv) == 2
    assert "--u-dim only applies to --model lgf" in _error_line(capsys)
    assert not model.exists()


def test_fit_output_folder_missing(tmp_path, named_csv, capsys):
    assert _fit(named_csv, tmp_path / "no" / "model.pt") == 2
    assert "no such directory" in _error_line(capsys)


def _score(model, data, out):
    return main(["score", str(model), str(data), "-o", str(out)])


def test_score_wrong_number_of_columns(fitted, tmp_path, capsys):
    _, model = fitted
    data = tmp_path / "three.csv"
    data.write_text("1,2,3\n4,5,6\n")
    out = tmp_path / "out.csv"
    assert _score(model, data, out) == 2
    line = _error_line(capsys)
    assert f"{data}: 3 columns, but the model {model} was fitted on 2" in line
    assert not out.exists()


def test_score_wrong_column_names(fitted, tmp_path, capsys):
    _, model = fitted
    data = tmp_path / "renamed.csv"
    data.write_text("alpha,gamma\n1,2\n")
    out = tmp_path / "out.csv"
    assert _score(model, data, out) == 2
    line = _error_line(capsys)
    assert f"{data}, row 1, column 'gamma' (2)" in line and "'beta'" in line
    assert not out.exists()


def test_score_beyond_float32_is_refused(fitted, tmp_path, capsys):
    # Scored in float32, 1e40 became inf and every row NaN, with exit 0.
    _, model = fitted
    data = tmp_path / "huge.csv"
    data.write_text("alpha,beta\n1,2\n3,1e40\n")
    out = tmp_path / "out.csv"
    assert _score(model, data, out) == 2
    line = _error_line(capsys)
    assert f"{data}, row 3, column 'beta' (2): '1e40' is beyond the float32" in line
    assert not out.exists()


def test_score_bad_data_keeps_existing_output(fitted, tmp_path, capsys):
    _, model = fitted
    data = tmp_path / "bad.csv"
    data.write_text("1,2\n3,abc\n")
    out = tmp_path / "out.csv"
    out.write_text("previous\n")
    assert _score(model, data, out) == 2
    assert "row 2, column 2" in _error_line(capsys)
    assert out.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["bad.csv", "out.csv"]


@pytest.mark.parametrize("content", [b"1,2\n3,4\n", b"", b"\x80garbage"])
def test_not_a_model_file(named_csv, tmp_path, capsys, content):
    model = tmp_path / "fake.pt"
    model.write_bytes(content)
    out = tmp_path / "out.csv"
    assert _score(model, named_csv, out) == 2
    line = _error_line(capsys)
    assert str(model) in line and "not an sklearn-lgf model file" in line
    assert not out.exists()
    assert main(["sample", str(model), "-n", "2", "-o", str(out)]) == 2
    assert "not an sklearn-lgf model file" in _error_line(capsys)
    assert not out.exists()


def test_missing_model_file(named_csv, tmp_path, capsys):
    assert main(["sample", str(tmp_path / "absent.pt"), "-n", "2"]) == 2
    assert "absent.pt: no such file" in _error_line(capsys)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["fit", "x.csv", "-o", "m.pt"],  # --model missing
        ["fit", "x.csv", "--model", "lgf", "--hidden-layer-sizes", "4,0", "-o", "m"],
        ["fit", "x.csv", "--model", "lgf", "--learning-rate-init", "-1", "-o", "m"],
        ["sample", "m.pt", "-n", "0"],
        ["sample", "m.pt", "-n", "2", "--random-state", "-1"],
        ["score", "m.pt"],  # DATA missing
        ["demo", "--target", "moons"],
    ],
)
def test_usage_errors(argv, capsys):
    assert main(argv) == 2
    assert "sklearn-lgf" in capsys.readouterr().err


def test_closed_stdout_is_quiet(fitted, monkeypatch, capsys):
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    _, model = fitted
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["sample", str(model), "-n", "3"]) == 141
    assert capsys.readouterr().err == ""


def test_help_via_python_m():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_lgf", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: sklearn-lgf")
    for command in ["demo", "fit", "score", "sample"]:
        assert command in result.stdout


def test_demo_writes_png(tmp_path, capsys):
    import torch

    threads = torch.get_num_threads()
    png = tmp_path / "demo.png"
    argv = ["demo", "--n-train", "500", "--max-iter", "2", "--n-test", "200"]
    argv += ["--resolution", "20", "--threads", "1", "--quiet", "-o", str(png)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "MAF" in out and "LGF-MAF" in out and "K=100" in out and "true" in out
    assert "warning" not in captured.err  # the demo's budget is by design
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    assert torch.get_num_threads() == threads  # restored


def test_demo_without_matplotlib_still_reports(tmp_path, capsys, monkeypatch):
    # The README's main command installs the package without the plot extra:
    # the demo must still print its figures and exit 0, and say how to get
    # the plot instead of failing.
    import sklearn_lgf._plotting as plotting

    def missing() -> None:
        raise ImportError("plotting needs matplotlib, which is not installed")

    monkeypatch.setattr(plotting, "require_matplotlib", missing)
    png = tmp_path / "demo.png"
    argv = ["demo", "--n-train", "300", "--max-iter", "1", "--n-test", "100"]
    argv += ["--threads", "1", "--quiet", "-o", str(png)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "true" in out and "LGF-MAF" in out
    assert "No figure written" in out and "sklearn-lgf[plot]" in out
    assert not png.exists()
