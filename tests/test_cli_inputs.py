"""Property-based tests of the command line on malformed input files.

Whatever a DATA or MODEL file holds (random bytes, ragged rows, text in a
number's place, empty files, NaN, infinities, values beyond float32, the wrong
number of columns, a truncated or corrupted model file), ``sklearn-lgf fit``,
``score`` and ``sample`` must answer with exit status 2 and one line
``sklearn-lgf: error: ...`` naming the file (and the row and column where it
applies), never a traceback, and leave no output file, complete or partial,
behind. Also here: the help texts and ``score --n-importance-samples``.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_lgf.cli import build_parser, main
from sklearn_lgf.cli._parser import DEPRECATED_OPTIONS
from sklearn_lgf.cli._tables import FLOAT32_MAX
from sklearn_lgf.model_io import load_model

TINY = ["--n-layers", "2", "--hidden-layer-sizes", "8", "--max-iter", "1"]
LGF_OPTIONS = ["--u-dim", "1", "--n-importance-samples", "4"]
COMMON = ["--random-state", "0", "--device", "cpu", "--quiet"]
N_FEATURES = 2

# Each example runs the command once or twice on tiny files and models.
FAST = settings(max_examples=25, deadline=None)


def _run(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` with its standard output and error captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def _assert_refused(
    result: tuple[int, str, str], folder: Path, inputs: set[str], *fragments: str
) -> str:
    """Exit 2, one error line holding every fragment, nothing written."""
    status, out, err = result
    lines = err.splitlines()
    assert status == 2, err
    assert len(lines) == 1, err  # one line: no traceback, no warnings first
    assert lines[0].startswith("sklearn-lgf: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert out == ""
    # No output file, and no temporary file of an interrupted atomic write.
    assert {p.name for p in folder.iterdir()} == inputs
    return lines[0]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli_inputs")


@pytest.fixture(scope="module")
def models(workdir) -> dict[str, Path]:
    """A tiny MAF and LGF fitted once by the CLI on 2-column data."""
    rng = np.random.RandomState(0)
    data = workdir / "train.npy"
    np.save(data, rng.normal(size=(64, N_FEATURES)))
    paths = {}
    for kind, extra in [("maf", []), ("lgf", LGF_OPTIONS)]:
        path = workdir / f"{kind}.pt"
        argv = ["fit", str(data), "--model", kind, *TINY, *extra, *COMMON]
        status, _, err = _run([*argv, "-o", str(path)])
        assert status == 0, err
        paths[kind] = path
    return paths


@contextlib.contextmanager
def _folder(workdir: Path):
    with tempfile.TemporaryDirectory(dir=workdir) as name:
        yield Path(name)


def _argv(command: str, data: Path, folder: Path, models: dict[str, Path]):
    """``fit`` or ``score`` of ``data``, writing into ``folder``."""
    if command == "fit":
        argv = ["fit", str(data), "--model", "maf", *TINY, *COMMON]
        return [*argv, "-o", str(folder / "model.pt")]
    return ["score", str(models["maf"]), str(data), "-o", str(folder / "out.csv")]


# ------------------------------------------------------------- strategies

COMMANDS = st.sampled_from(["fit", "score"])
NUMBERS = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False).map(repr),
    st.integers(-1000, 1000).map(str),
)


@st.composite
def tables(draw, n_columns=None):
    """(header or None, rows of number strings) with at least two rows."""
    if n_columns is None:
        n_columns = draw(st.integers(1, 4))
    row = st.lists(NUMBERS, min_size=n_columns, max_size=n_columns)
    rows = draw(st.lists(row, min_size=2, max_size=6))
    header = [f"c{j}" for j in range(n_columns)] if draw(st.booleans()) else None
    return header, rows


def _csv(header, rows) -> str:
    lines = [] if header is None else [",".join(header)]
    return "\n".join(lines + [",".join(row) for row in rows]) + "\n"


def _parses(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


# Text that cannot be read as a number and needs no CSV quoting.
NOT_NUMBERS = st.text(
    st.characters(exclude_characters=',"\r\n\x00', exclude_categories=("Cs",)),
    max_size=6,
).filter(lambda cell: not _parses(cell))
NON_FINITE = st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "-infinity"])
BEYOND_FLOAT32 = st.builds(
    lambda value, sign: sign * value,
    st.floats(3.5e38, 1.7e308),
    st.sampled_from([1.0, -1.0]),
)


@st.composite
def cell_positions(draw, header, rows):
    """(row index, column index) of a data cell whose line is known.

    Without a header, the first row must stay numeric: a first row with a
    non-numeric cell is read as a header.
    """
    first = 0 if header is not None else 1
    i = draw(st.integers(first, len(rows) - 1))
    j = draw(st.integers(0, len(rows[0]) - 1))
    return i, j


def _line(header, i: int) -> int:
    """The file's line number (from 1) of data row ``i``."""
    return i + 1 + (header is not None)


def _column(header, j: int) -> str:
    return f"column 'c{j}' ({j + 1})" if header is not None else f"column {j + 1}"


# ------------------------------------------------------------------- CSV


@FAST
@given(data=st.data(), command=COMMANDS, table=tables())
def test_csv_non_numeric_cell(workdir, models, data, command, table):
    header, rows = table
    i, j = data.draw(cell_positions(header, rows))
    cell = data.draw(NOT_NUMBERS)
    if len(rows[0]) == 1:
        # A lone blank cell is a blank line, which is skipped.
        cell = data.draw(NOT_NUMBERS.filter(str.strip))
    rows[i][j] = cell
    with _folder(workdir) as folder:
        path = folder / "bad.csv"
        path.write_text(_csv(header, rows), encoding="utf-8")
        result = _run(_argv(command, path, folder, models))
        where = f"{path}, row {_line(header, i)}, {_column(header, j)}: "
        _assert_refused(result, folder, {"bad.csv"}, where, "is not a number")


@FAST
@given(data=st.data(), command=COMMANDS, table=tables())
def test_csv_non_finite_or_beyond_float32(workdir, models, data, command, table):
    header, rows = table
    i, j = data.draw(cell_positions(header, rows))
    if data.draw(st.booleans()):
        rows[i][j], problem = data.draw(NON_FINITE), "is not a finite number"
    else:
        rows[i][j] = repr(data.draw(BEYOND_FLOAT32))
        problem = "is beyond the float32 range the models compute in"
    with _folder(workdir) as folder:
        path = folder / "bad.csv"
        path.write_text(_csv(header, rows), encoding="utf-8")
        result = _run(_argv(command, path, folder, models))
        where = f"{path}, row {_line(header, i)}, {_column(header, j)}: "
        _assert_refused(result, folder, {"bad.csv"}, where + repr(rows[i][j]), problem)


@FAST
@given(data=st.data(), command=COMMANDS, table=tables())
def test_csv_ragged_rows(workdir, models, data, command, table):
    header, rows = table
    width = len(rows[0])
    first = 0 if header is not None else 1
    i = data.draw(st.integers(first, len(rows) - 1))
    length = data.draw(st.integers(1, 6).filter(lambda k: k != width))
    rows[i] = data.draw(st.lists(NUMBERS, min_size=length, max_size=length))
    with _folder(workdir) as folder:
        path = folder / "ragged.csv"
        path.write_text(_csv(header, rows), encoding="utf-8")
        result = _run(_argv(command, path, folder, models))
        expected = f"{path}, row {_line(header, i)}: {length} columns, expected {width}"
        _assert_refused(result, folder, {"ragged.csv"}, expected)


@FAST
@given(
    command=COMMANDS,
    lines=st.lists(st.sampled_from(["", " ", "\t", "  \t "]), max_size=4),
    header=st.booleans(),
)
def test_csv_empty_or_header_only(workdir, models, command, lines, header):
    text = "\n".join((["a,b"] if header else []) + lines)
    with _folder(workdir) as folder:
        path = folder / "empty.csv"
        path.write_text(text, encoding="utf-8")
        result = _run(_argv(command, path, folder, models))
        problem = "a header row but no data rows" if header else "empty file"
        _assert_refused(result, folder, {"empty.csv"}, f"{path}: {problem}")


@FAST
@given(
    data=st.data(),
    table=tables().filter(lambda table: len(table[1][0]) != N_FEATURES),
    kind=st.sampled_from(["maf", "lgf"]),
)
def test_csv_wrong_number_of_columns(workdir, models, data, table, kind):
    header, rows = table
    width = len(rows[0])
    with _folder(workdir) as folder:
        path = folder / "wide.csv"
        path.write_text(_csv(header, rows), encoding="utf-8")
        out = folder / "out.csv"
        result = _run(["score", str(models[kind]), str(path), "-o", str(out)])
        expected = (
            f"{path}: {width} column{'s' * (width != 1)}, but the model "
            f"{models[kind]} was fitted on {N_FEATURES} features"
        )
        _assert_refused(result, folder, {"wide.csv"}, expected)


# Text made of what CSV files of numbers are made of, in any order.
CSV_LIKE = st.text(
    st.sampled_from(list("0123456789.,-+eE \t\n\r\"'nafiy")), max_size=80
)


@FAST
@given(
    content=st.one_of(st.binary(max_size=200), CSV_LIKE.map(str.encode)),
    suffix=st.sampled_from([".csv", ".npy"]),
    command=st.sampled_from(["fit", "score"]),
)
def test_random_bytes_as_data(workdir, models, content, suffix, command):
    # Random bytes or CSV-like text are nearly always malformed, but may
    # happen to be a valid table (b"1\n2\n"): then the command succeeds or
    # reports why it cannot use the table (one row to fit, one column for a
    # two-column model). Either way: one line naming the file, no traceback,
    # and an output file only on success.
    with _folder(workdir) as folder:
        path = folder / f"random{suffix}"
        path.write_bytes(content)
        status, out, err = result = _run(_argv(command, path, folder, models))
        if status == 0:
            assert {p.name for p in folder.iterdir()} == {
                path.name,
                "model.pt" if command == "fit" else "out.csv",
            }
            warnings = err.splitlines()
            assert all(w.startswith("sklearn-lgf: warning: ") for w in warnings)
        elif command == "fit" and status == 1:  # a valid table that diverged
            assert err.count("\n") == 1 and "training failed" in err
            assert {p.name for p in folder.iterdir()} == {path.name}
        else:
            _assert_refused(result, folder, {path.name}, str(path))


# ------------------------------------------------------------------- npy


@FAST
@given(
    data=st.data(),
    command=COMMANDS,
    shape=st.tuples(st.integers(1, 6), st.integers(1, 4)),
    dtype=st.sampled_from([np.float64, np.float32, np.float16]),
)
def test_npy_non_finite_or_beyond_float32(workdir, models, data, command, shape, dtype):
    array = np.random.RandomState(0).normal(size=shape).astype(dtype)
    i = data.draw(st.integers(0, shape[0] - 1))
    j = data.draw(st.integers(0, shape[1] - 1))
    beyond = dtype == np.float64 and data.draw(st.booleans())
    if beyond:
        array[i, j] = data.draw(BEYOND_FLOAT32)
        problem = f"{array[i, j]} is beyond the float32 range"
    else:
        array[i, j] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        problem = f"{float(array[i, j])} is not a finite number"
    with _folder(workdir) as folder:
        path = folder / "bad.npy"
        np.save(path, array)
        result = _run(_argv(command, path, folder, models))
        where = f"{path}, row {i + 1}, column {j + 1}: "
        _assert_refused(result, folder, {"bad.npy"}, where + problem)


@FAST
@given(
    data=st.data(),
    table=tables(n_columns=N_FEATURES),
    value=st.builds(
        lambda value, sign: sign * value,
        st.floats(1e20, FLOAT32_MAX),
        st.sampled_from([1.0, -1.0]),
    ),
    kind=st.sampled_from(["maf", "lgf"]),
)
def test_score_values_too_far_for_float32(workdir, models, data, table, value, kind):
    # Within float32's range, but so many standard deviations away from the
    # training data (location 0, scale 1 here) that the model's float32
    # arithmetic overflows: the log-densities were NaN or -inf, with exit 0.
    header, rows = table
    i, j = data.draw(cell_positions(header, rows))
    rows[i][j] = repr(value)
    with _folder(workdir) as folder:
        path = folder / "far.csv"
        path.write_text(_csv(header, rows), encoding="utf-8")
        out = folder / "out.csv"
        result = _run(["score", str(models[kind]), str(path), "-o", str(out)])
        where = f"{path}, row {_line(header, i)}, {_column(header, j)}: {value!r} is "
        _assert_refused(result, folder, {"far.csv"}, where, "overflows")


def test_non_finite_results_are_refused(models, score_data, tmp_path):
    # A model whose weights are not finite (a diverged fit saved anyway):
    # NaN log-densities and samples were written with exit 0.
    import torch

    from sklearn_lgf.model_io import save_model

    estimator = load_model(models["maf"])
    with torch.no_grad():
        next(estimator.model_.parameters()).fill_(float("nan"))
    model = tmp_path / "nan.pt"
    save_model(estimator, model)
    out = tmp_path / "out.csv"
    result = _run(["score", str(model), str(score_data), "-o", str(out)])
    expected = f"{score_data}, row 1: the log-density under {model} is nan"
    _assert_refused(result, tmp_path, {"nan.pt"}, expected, "(5 rows in all)")
    result = _run(["sample", str(model), "-n", "4", "-o", str(out)])
    expected = f"cannot sample from {model}: 4 of the 4 rows drawn are not finite"
    _assert_refused(result, tmp_path, {"nan.pt"}, expected)


NPY_CASES = {
    "1-d": (np.arange(3.0), "expected a 2-D array"),
    "3-d": (np.zeros((2, 2, 2)), "expected a 2-D array"),
    "scalar": (np.float64(1.0), "expected a 2-D array"),
    "no rows": (np.zeros((0, 2)), "empty array"),
    "no columns": (np.zeros((3, 0)), "empty array"),
    "strings": (np.array([["1", "2"]]), "expected a numeric array"),
    "booleans": (np.ones((2, 2), dtype=bool), "expected a numeric array"),
    "complex": (np.ones((2, 2), dtype=complex), "expected a numeric array"),
    "records": (np.zeros(2, dtype=[("a", "f8")]), "expected a numeric array"),
}


@FAST
@given(case=st.sampled_from(sorted(NPY_CASES)), command=COMMANDS)
def test_npy_wrong_kind_of_array(workdir, models, case, command):
    array, problem = NPY_CASES[case]
    with _folder(workdir) as folder:
        path = folder / "bad.npy"
        np.save(path, array)
        result = _run(_argv(command, path, folder, models))
        _assert_refused(result, folder, {"bad.npy"}, f"{path}", problem)


@FAST
@given(data=st.data(), command=COMMANDS)
def test_npy_truncated_or_damaged(workdir, models, data, command):
    # A whole .npy cut short, or its header's shape made larger than the data:
    # numpy would allocate what the header claims before noticing.
    n_rows = data.draw(st.integers(1, 50))
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((n_rows, N_FEATURES)))
    content = buffer.getvalue()
    if data.draw(st.booleans()):
        content = content[: data.draw(st.integers(0, len(content) - 1))]
    else:
        claimed = data.draw(st.sampled_from([10**6, 10**12, 2**62]))
        content = content.replace(f"({n_rows}, ".encode(), f"({claimed}, ".encode())
    with _folder(workdir) as folder:
        path = folder / "cut.npy"
        path.write_bytes(content)
        result = _run(_argv(command, path, folder, models))
        _assert_refused(result, folder, {"cut.npy"}, f"{path}: ")


def test_npy_starting_like_a_zip_archive(workdir, models):
    # numpy.load reads a file starting with a zip signature as an .npz
    # archive, and raised zipfile's BadZipFile through the command.
    with _folder(workdir) as folder:
        path = folder / "pk.npy"
        path.write_bytes(b"PK\x03\x04 not really a zip archive")
        result = _run(_argv("score", path, folder, models))
        _assert_refused(result, folder, {"pk.npy"}, f"{path}: not a numeric .npy")


@FAST
@given(
    shape=st.tuples(st.integers(1, 5), st.integers(1, 5)).filter(
        lambda shape: shape[1] != N_FEATURES
    ),
    kind=st.sampled_from(["maf", "lgf"]),
)
def test_npy_wrong_number_of_columns(workdir, models, shape, kind):
    with _folder(workdir) as folder:
        path = folder / "wide.npy"
        np.save(path, np.zeros(shape))
        out = folder / "out.csv"
        result = _run(["score", str(models[kind]), str(path), "-o", str(out)])
        expected = f"{path}: {shape[1]} column"
        _assert_refused(result, folder, {"wide.npy"}, expected, "fitted on 2")


# ----------------------------------------------------------- model files


def _model_commands(model: Path, data: Path, folder: Path) -> list[list[str]]:
    return [
        ["score", str(model), str(data), "-o", str(folder / "out.csv")],
        ["sample", str(model), "-n", "3", "--random-state", "0"]
        + ["-o", str(folder / "out.csv")],
    ]


@pytest.fixture(scope="module")
def score_data(workdir) -> Path:
    path = workdir / "score.csv"
    rows = np.random.RandomState(1).normal(size=(5, N_FEATURES))
    path.write_text("\n".join(",".join(repr(float(v)) for v in row) for row in rows))
    return path


MODEL_REFUSALS = ("not an sklearn-lgf model file", "truncated or corrupted")


def _assert_model_refused(result, folder, inputs, model: Path) -> None:
    line = _assert_refused(result, folder, inputs, str(model))
    assert any(reason in line for reason in MODEL_REFUSALS), line
    assert "miniz" not in line and "PytorchStreamReader" not in line


@FAST
@given(
    content=st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=300).map(lambda tail: b"PK\x03\x04" + tail),
    )
)
def test_random_bytes_as_model(workdir, score_data, content):
    with _folder(workdir) as folder:
        model = folder / "random.pt"
        model.write_bytes(content)
        for argv in _model_commands(model, score_data, folder):
            _assert_model_refused(_run(argv), folder, {"random.pt"}, model)


@FAST
@given(data=st.data(), kind=st.sampled_from(["maf", "lgf"]))
def test_truncated_model(workdir, models, score_data, data, kind):
    content = models[kind].read_bytes()
    keep = data.draw(st.integers(0, len(content) - 1))
    with _folder(workdir) as folder:
        model = folder / "cut.pt"
        model.write_bytes(content[:keep])
        for argv in _model_commands(model, score_data, folder):
            _assert_model_refused(_run(argv), folder, {"cut.pt"}, model)


@pytest.fixture(scope="module")
def intact_outputs(models, score_data, workdir) -> dict[str, str]:
    """What score and sample write with the undamaged models."""
    outputs = {}
    for kind, model in models.items():
        with _folder(workdir) as folder:
            for argv in _model_commands(model, score_data, folder):
                assert _run(argv)[0] == 0
                outputs[f"{kind} {argv[0]}"] = (folder / "out.csv").read_text()
    return outputs


@FAST
@given(
    data=st.data(),
    kind=st.sampled_from(["maf", "lgf"]),
    n_changes=st.integers(1, 3),
)
def test_corrupted_model(
    workdir, models, score_data, intact_outputs, data, kind, n_changes
):
    # Changed bytes are refused in one line, unless they lie where nothing is
    # read (zip padding, timestamps): then the results are exactly those of
    # the intact file. A damaged model never gives other numbers silently.
    content = bytearray(models[kind].read_bytes())
    for _ in range(n_changes):
        position = data.draw(st.integers(0, len(content) - 1))
        content[position] ^= data.draw(st.integers(1, 255))
    with _folder(workdir) as folder:
        model = folder / "damaged.pt"
        model.write_bytes(bytes(content))
        for argv in _model_commands(model, score_data, folder):
            result = _run(argv)
            if result[0] == 0:
                written = (folder / "out.csv").read_text()
                assert written == intact_outputs[f"{kind} {argv[0]}"]
                (folder / "out.csv").unlink()
            else:
                _assert_model_refused(result, folder, {"damaged.pt"}, model)


# ------------------------ score --n-importance-samples, --importance-tol


def test_score_n_importance_samples_sets_k(models, score_data, capsys):
    model = load_model(models["lgf"])
    assert model.n_importance_samples == 4  # as fitted
    capsys.readouterr()
    for k in [1, 50]:
        argv = ["score", str(models["lgf"]), str(score_data)]
        assert main([*argv, "--n-importance-samples", str(k)]) == 0
        got = np.array(capsys.readouterr().out.split(), dtype=float)
        expected = model.set_params(n_importance_samples=k).score_samples(
            np.loadtxt(score_data, delimiter=",")
        )
        np.testing.assert_array_equal(got, expected)
    # K changes the estimate (K=1 is the ELBO's single draw).
    assert main(["score", str(models["lgf"]), str(score_data)]) == 0
    default = np.array(capsys.readouterr().out.split(), dtype=float)
    assert not np.array_equal(default, got)
    assert load_model(models["lgf"]).n_importance_samples == 4  # file untouched


@pytest.mark.parametrize(
    "option, value", [("--n-importance-samples", "10"), ("--importance-tol", "0.1")]
)
def test_score_lgf_options_refused_for_maf(models, score_data, tmp_path, option, value):
    out = tmp_path / "out.csv"
    argv = ["score", str(models["maf"]), str(score_data), "-o", str(out)]
    result = _run([*argv, option, value])
    expected = (
        f"{option} only applies to LGF models; {models['maf']} "
        "holds a MAFDensity, whose log-density is exact"
    )
    _assert_refused(result, tmp_path, set(), expected)


@pytest.mark.parametrize(
    "option, value",
    [
        *(("--n-importance-samples", v) for v in ["0", "-3", "ten"]),
        *(("--importance-tol", v) for v in ["0", "-0.1", "nan", "small"]),
    ],
)
def test_score_lgf_options_must_be_positive(models, score_data, option, value):
    argv = ["score", str(models["lgf"]), str(score_data)]
    status, out, err = _run([*argv, option, value])
    assert status == 2 and out == ""
    assert option in err and repr(value) in err


# ------------------------------------------------ score --importance-tol


def test_score_importance_tol_sets_the_tolerance(models, score_data, capsys):
    model = load_model(models["lgf"]).set_params(n_importance_samples=50)
    X = np.loadtxt(score_data, delimiter=",")
    full, std = model.score_samples(X, return_std=True)
    tolerance = float(np.median(std))
    capsys.readouterr()
    argv = ["score", str(models["lgf"]), str(score_data), "--n-importance-samples"]
    assert main([*argv, "50", "--importance-tol", repr(tolerance)]) == 0
    got = np.array(capsys.readouterr().out.split(), dtype=float)
    expected = model.set_params(importance_tol=tolerance).score_samples(X)
    np.testing.assert_array_equal(got, expected)
    assert not np.array_equal(got, full)  # some rows stopped early
    assert load_model(models["lgf"]).importance_tol is None  # file untouched


# ------------------------------------------------------------------ help


def _subparsers() -> dict[str, object]:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    return dict(commands.choices)


@pytest.mark.parametrize("command", ["demo", "fit", "score", "sample"])
def test_help_lists_required_options_apart_and_shows_defaults(command):
    parser = _subparsers()[command]
    text = parser.format_help()
    sections = {}
    for group in parser._action_groups:
        for action in group._group_actions:
            sections[action.dest] = group.title
    for action in parser._actions:
        if not action.option_strings:
            continue  # positional
        if action.required:
            assert sections[action.dest] == "required arguments", action.dest
            continue
        assert sections[action.dest] != "required arguments", action.dest
        if action.nargs == 0:  # --help, --quiet: flags without a value
            continue
        if sections[action.dest] == DEPRECATED_OPTIONS:  # renamed: the new flag
            assert action.help.startswith("use --"), action.option_strings
            continue
        assert action.help and "(default: " in action.help, action.option_strings
        assert "%(default)s" not in text
    # Required options come before the optional ones.
    if any(action.required and action.option_strings for action in parser._actions):
        assert text.index("required arguments:") < text.index("options:")


def test_fit_help_shows_the_estimators_defaults():
    from sklearn_lgf import LGFDensity, MAFDensity

    text = " ".join(_subparsers()["fit"].format_help().split())
    # "auto" parameters show what they mean for tabular data.
    defaults = {**LGFDensity().get_params(), **LGFDensity._tabular_defaults}
    assert f"flow layers (default: {defaults['n_layers']})" in text
    sizes = ",".join(str(v) for v in defaults["hidden_layer_sizes"])
    maf_sizes = ",".join(
        str(v) for v in MAFDensity._tabular_defaults["hidden_layer_sizes"]
    )
    assert f"(default: {sizes} for lgf, {maf_sizes} for maf)" in text
    assert f"(default: {defaults['n_importance_samples']})" in text
    assert f"(default: {defaults['learning_rate_init']})" in text


def test_float32_boundary_is_accepted(tmp_path):
    # The largest float32 itself is a number the models can take.
    from sklearn_lgf.cli._tables import read_table

    path = tmp_path / "edge.csv"
    path.write_text(f"1,2\n{FLOAT32_MAX!r},{-FLOAT32_MAX!r}\n")
    values = read_table(str(path)).values
    np.testing.assert_array_equal(values[1], [FLOAT32_MAX, -FLOAT32_MAX])
    assert np.isfinite(values.astype(np.float32)).all()
