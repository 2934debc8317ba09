"""The command line's grammar: its options, their checks and their help."""

from __future__ import annotations

import argparse
import inspect
import math
from typing import Any, TypeAlias

from .._steps import BASE_STEPS, CONDITIONERS, UNIVARIATES
from ..nn.training import LEARNING_RATES
from ..presets import PAPER_N_TEST, PAPER_N_TRAIN
from ._commands import fit_command, sample_command, score_command
from ._demo import (
    DEMO_MAX_ITER,
    DEMO_RESOLUTION,
    DEMO_THREADS,
    demo_command,
    demo_summary,
)
from ._messages import PROG, cli_flag

_Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

# Option types: each turns the typed text into a value or says, in argparse's
# one-line error, why it cannot.


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _seed(text: str) -> int:
    value = _int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer in [0, 2**32)")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    parts = [part.strip() for part in text.split(",")]
    try:
        return tuple(_positive_int(part) for part in parts)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of positive integers (e.g. 64,64)"
        ) from None


def _image_shape(text: str) -> tuple[int, int, int]:
    sizes = _sizes(text)
    if len(sizes) != 3:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an image shape: channels,height,width (e.g. 1,28,28)"
        )
    return (sizes[0], sizes[1], sizes[2])


def _levels(text: str) -> int:
    value = _int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer of at least 2")
    return value


def _batch_size(text: str) -> int | str:
    return "auto" if text == "auto" else _positive_int(text)


def _schedule(text: str) -> str:
    if text in LEARNING_RATES:
        return text
    try:
        rate = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a schedule (choose from {', '.join(LEARNING_RATES)})"
        ) from None
    # Before 0.2.0 this flag took the initial rate: refuse, never reinterpret.
    raise argparse.ArgumentTypeError(
        f"--learning-rate names the learning-rate schedule since 0.2.0 "
        f"({', '.join(LEARNING_RATES)}); for the initial learning rate "
        f"write --learning-rate-init {rate:g}"
    )


def _target(text: str) -> str:
    from ..datasets import TARGETS

    if text not in TARGETS:
        raise argparse.ArgumentTypeError(
            f"unknown target {text!r} (choose from {', '.join(TARGETS)})"
        )
    return text


def _add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def _add_threads(parser: argparse.ArgumentParser, default: int | None) -> None:
    shown = "torch's choice" if default is None else str(default)
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=default,
        metavar="N",
        help=f"torch CPU threads (default: {shown}). These networks are small: "
        "one thread is often as fast, and much faster when other processes "
        "share the CPUs",
    )


_MODEL_HELP = "a model file written by sklearn-lgf fit"
DEPRECATED_OPTIONS = "deprecated options (removed in 0.3.0)"


def _estimator_default(name: str) -> str:
    """The default of parameter ``name`` of the estimators, as typed on the
    command line (one value, or one for each model when they differ)."""
    from .. import LGFDensity, MAFDensity

    shown = {}
    for model, cls in [("lgf", LGFDensity), ("maf", MAFDensity)]:
        parameter = inspect.signature(cls).parameters.get(name)
        if parameter is not None:
            value = parameter.default
            # "auto" is the tabular default here; --image-shape says the rest.
            value = cls._tabular_defaults.get(name, value)
            if callable(value):  # a rule of the data (sklearn_lgf._size_rule)
                value = "auto"
            if isinstance(value, tuple):
                shown[model] = ",".join(str(v) for v in value)
            else:
                shown[model] = str(value)
    if len(set(shown.values())) == 1:
        return next(iter(shown.values()))
    return ", ".join(f"{value} for {model}" for model, value in shown.items())


def _required_group(parser: argparse.ArgumentParser) -> Any:
    """A "required arguments" group, listed right after the positional ones."""
    group = parser.add_argument_group("required arguments")
    # argparse lists groups in creation order, after its own "options".
    groups = parser._action_groups
    groups.insert(1, groups.pop())
    return group


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sklearn-lgf`` command."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fit, score and sample localised generative flows (LGF) and "
        "masked autoregressive flows (MAF) on tabular data.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # The help lists the commands in the order they are added here.
    _add_demo(commands)
    _add_fit(commands)
    _add_score(commands)
    _add_sample(commands)
    return parser


def _add_demo(commands: _Commands) -> None:
    demo = commands.add_parser(
        "demo",
        help="fit a MAF and an LGF-MAF on a 2-D target and plot both densities",
        description=f"{demo_summary()} on "
        "a 2-D target on the CPU, print their test log-likelihoods, parameter "
        "counts and training times, and plot both learned densities.",
    )
    demo.add_argument(
        "--target",
        type=_target,
        default="two_uniforms",
        metavar="NAME",
        help="two_uniforms, eight_gaussians, checkerboard, two_spirals or "
        "rings (default: %(default)s)",
    )
    demo.add_argument(
        "--output",
        "-o",
        default="lgf_demo.png",
        metavar="PNG",
        help="where to write the plot (default: %(default)s)",
    )
    demo.add_argument(
        "--n-train",
        type=_positive_int,
        default=PAPER_N_TRAIN,
        metavar="N",
        help="training points, 10%% of them held out to keep each model's best epoch "
        "(default: %(default)s)",
    )
    demo.add_argument(
        "--n-test",
        type=_positive_int,
        default=PAPER_N_TEST,
        metavar="N",
        help="test points (default: %(default)s)",
    )
    demo.add_argument(
        "--max-iter",
        type=_positive_int,
        default=DEMO_MAX_ITER,
        metavar="N",
        help="maximum epochs of each model (default: %(default)s)",
    )
    demo.add_argument(
        "--random-state",
        type=_seed,
        default=0,
        metavar="N",
        help="seeds the data and both fits (default: %(default)s)",
    )
    demo.add_argument(
        "--resolution",
        type=_positive_int,
        default=DEMO_RESOLUTION,
        metavar="N",
        help="plot grid points per axis (default: %(default)s)",
    )
    _add_quiet(demo)
    _add_threads(demo, DEMO_THREADS)
    demo.set_defaults(handler=demo_command)


def _add_fit(commands: _Commands) -> None:
    fit = commands.add_parser(
        "fit",
        help="fit a model to DATA and save it",
        description="Fit an LGF or a MAF to DATA (CSV with or without a header "
        "row, or .npy) and save it to MODEL. Options are the estimators' "
        "parameters; unset ones keep the defaults shown below.",
    )
    fit.add_argument("data", metavar="DATA", help="CSV or .npy file")
    required = _required_group(fit)
    required.add_argument(
        "--model",
        choices=["lgf", "maf"],
        required=True,
        help="lgf: LGFDensity, for targets with separate components or holes; "
        "maf: MAFDensity, a plain masked autoregressive flow",
    )
    required.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="MODEL",
        help="the model file to write (replaced only once fitting succeeded)",
    )
    _add_architecture(fit)
    _add_training(fit)
    _add_renamed(fit)
    _add_quiet(fit)
    _add_threads(fit, None)
    fit.set_defaults(handler=fit_command)


def _add_option(
    parser: argparse.ArgumentParser, name: str, text: str, **kwargs: Any
) -> None:
    """The flag of the estimators' parameter ``name``, its default shown."""
    parser.add_argument(
        cli_flag(name),
        help=f"{text} (default: {_estimator_default(name)})",
        **kwargs,
    )


def _add_architecture(fit: argparse.ArgumentParser) -> None:
    _add_option(fit, "n_layers", "flow layers", type=_positive_int, metavar="N")
    _add_option(
        fit,
        "hidden_layer_sizes",
        "hidden units of each layer's network, comma-separated, e.g. 64,64",
        type=_sizes,
        metavar="SIZES",
    )
    _add_option(
        fit,
        "conditioner",
        "what each step's network sees: all earlier features "
        "(autoregressive, MADE) or half of them (coupling, RealNVP)",
        choices=list(CONDITIONERS),
    )
    _add_option(
        fit,
        "univariate",
        "what each step does to a feature: an affine map or rational-quadratic splines",
        choices=list(UNIVARIATES),
    )
    _add_option(
        fit,
        "n_bins",
        "--univariate spline only: bins of each spline",
        type=_positive_int,
        metavar="K",
    )
    _add_option(
        fit,
        "u_dim",
        "LGF only: dimension of the index u of each layer",
        type=_positive_int,
        metavar="N",
    )
    fit.add_argument(
        "--image-shape",
        type=_image_shape,
        metavar="C,H,W",
        help="the rows are images of C channels, H rows and W columns, "
        "flattened in that order; the model becomes the paper's multi-scale "
        "(LGF-)RealNVP and unset options take the paper's image settings "
        "(default: tabular data)",
    )
    _add_option(
        fit,
        "n_levels",
        "with --image-shape: intensity levels, the pixels being the integers 0 .. N-1",
        type=_levels,
        metavar="N",
    )
    _add_option(
        fit,
        "n_importance_samples",
        "LGF only: importance samples per row when scoring, saved with the "
        "model; score --n-importance-samples overrides it",
        type=_positive_int,
        metavar="K",
    )


def _add_training(fit: argparse.ArgumentParser) -> None:
    _add_option(fit, "max_iter", "maximum epochs", type=_positive_int, metavar="N")
    _add_option(
        fit,
        "batch_size",
        "rows per training step, or auto: a tenth of the training rows, "
        "between 32 and 1000",
        type=_batch_size,
        metavar="N",
    )
    _add_option(
        fit,
        "learning_rate_init",
        "initial learning rate of Adam",
        type=_positive_float,
        metavar="LR",
    )
    _add_option(
        fit,
        "learning_rate",
        "learning-rate schedule: constant; adaptive (at each stall, back to "
        "the best epoch with the rate divided by 5, instead of stopping); "
        "cosine (annealed towards 0 over --max-iter epochs)",
        type=_schedule,
        metavar="{" + ",".join(LEARNING_RATES) + "}",
    )
    fit.add_argument(
        "--random-state",
        type=_seed,
        metavar="N",
        help="seed, for reproducible fits (default: a fresh seed each run)",
    )
    _add_option(
        fit,
        "device",
        "auto (CUDA when available, else the CPU), cpu, cuda, cuda:1, ...",
        metavar="D",
    )


def _add_renamed(fit: argparse.ArgumentParser) -> None:
    """The flags that 0.2.0 renamed, accepted with a warning until 0.3.0."""
    renamed = fit.add_argument_group(DEPRECATED_OPTIONS)
    renamed.add_argument(
        "--base",
        choices=list(BASE_STEPS),
        help="use --conditioner and --univariate",
    )
    renamed.add_argument(
        "--schedule",
        choices=list(LEARNING_RATES),
        help="use --learning-rate",
    )


def _add_score(commands: _Commands) -> None:
    score = commands.add_parser(
        "score",
        help="log-density of each row of DATA",
        description="Print the log-density of each row of DATA, one per line, "
        "or write it to a CSV with the header log_density.",
    )
    score.add_argument("model_file", metavar="MODEL", help=_MODEL_HELP)
    score.add_argument("data", metavar="DATA", help="CSV or .npy file")
    score.add_argument(
        "-o",
        "--output",
        metavar="OUT.csv",
        help="write a CSV with the header log_density (default: print to "
        "standard output)",
    )
    score.add_argument(
        "--n-importance-samples",
        type=_positive_int,
        metavar="K",
        help="LGF models only, an error for a MAF (whose log-density is exact): "
        "importance samples per row; scoring costs K passes per row, and a "
        "larger K gives a more accurate estimate (default: the model's own, "
        "set by fit --n-importance-samples)",
    )
    score.add_argument(
        "--importance-tol",
        type=_positive_float,
        metavar="SE",
        help="LGF models only, an error for a MAF: each row stops drawing once "
        "the standard error of its estimate is at most SE nats (from the second "
        "tenth of its K draws on), so rows that are easy to estimate cost less "
        "(default: all K draws)",
    )
    score.add_argument(
        "--std",
        action="store_true",
        help="also each row's standard error over the importance samples, as a "
        "second column (std); 0 for a MAF, whose log-density is exact",
    )
    score.add_argument(
        "--device",
        metavar="D",
        help="cpu, cuda, ... (default: the device saved with the model)",
    )
    _add_quiet(score)
    _add_threads(score, None)
    score.set_defaults(handler=score_command)


def _add_sample(commands: _Commands) -> None:
    sample = commands.add_parser(
        "sample",
        help="draw rows from a model",
        description="Print N rows drawn from MODEL (comma-separated), or write "
        "them to a CSV whose header is the model's feature names or x0,x1,...",
    )
    sample.add_argument("model_file", metavar="MODEL", help=_MODEL_HELP)
    _required_group(sample).add_argument(
        "-n",
        "--n-samples",
        type=_positive_int,
        required=True,
        metavar="N",
        help="number of rows to draw",
    )
    sample.add_argument(
        "--random-state",
        type=_seed,
        metavar="S",
        help="seed, for reproducible draws (default: fresh draws each run)",
    )
    sample.add_argument(
        "-o",
        "--output",
        metavar="OUT.csv",
        help="write a CSV with a header (default: print to standard output, "
        "without a header)",
    )
    sample.add_argument(
        "--device",
        metavar="D",
        help="cpu, cuda, ... (default: the device saved with the model)",
    )
    _add_quiet(sample)
    _add_threads(sample, None)
    sample.set_defaults(handler=sample_command)
