"""The ``fit``, ``score`` and ``sample`` commands.

Each takes the parsed arguments and returns the exit status; problems are
raised as :class:`CLIError`. Every check that can fail runs before the long
computation, and outputs are written only once everything has succeeded.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

from .._steps import BASE_STEPS
from ._fitting import (
    FIT_OPTION_PARAMETERS,
    fit_reporting_warnings,
    n_parameters,
    save_fitted,
    save_interrupted,
)
from ._messages import SUCCESS, CLIError, cli_flag, reported_warnings, warn
from ._tables import (
    FLOAT32_MAX,
    Table,
    check_writable,
    column_label,
    csv_text,
    read_table,
    write_text,
)


def fit_command(args: argparse.Namespace) -> int:
    from .. import LGFDensity, MAFDensity

    if args.model == "maf":
        for option in ("u_dim", "n_importance_samples"):
            if getattr(args, option) is not None:
                raise CLIError(f"{cli_flag(option)} only applies to --model lgf")
    estimator_class = LGFDensity if args.model == "lgf" else MAFDensity
    _apply_renamed_flags(args)
    if args.n_levels is not None and args.image_shape is None:
        raise CLIError("--n-levels only applies with --image-shape")
    params: dict[str, Any] = {"verbose": 0 if args.quiet else 1}
    for option, name in FIT_OPTION_PARAMETERS.items():
        value = getattr(args, option, None)
        if value is not None:
            params[name] = value
    estimator: Any = estimator_class(**params)
    univariate = estimator._step(warn=False)[1]
    if args.n_bins is not None and univariate != "spline":
        raise CLIError(
            f"--n-bins only applies to --univariate spline (the {args.model} "
            f"model's univariate is {univariate})"
        )
    table = read_table(args.data)
    if len(table.values) < 2:
        raise CLIError(f"{args.data}: one data row; fitting needs at least 2")
    check_writable(args.output)
    X = table.values
    if not args.quiet:
        print(
            f"Fitting {type(estimator).__name__} on {X.shape[0]} rows x "
            f"{X.shape[1]} columns of {args.data}",
            flush=True,
        )
    try:
        seconds = fit_reporting_warnings(estimator, X, FIT_OPTION_PARAMETERS)
    except KeyboardInterrupt:
        return save_interrupted(estimator, table, args.output)
    save_fitted(estimator, table, args.output)
    if not args.quiet:
        print(
            f"Saved {type(estimator).__name__} ({n_parameters(estimator)} "
            f"parameters, {estimator.n_iter_} epochs, {seconds:.1f} s) to "
            f"{args.output}",
            flush=True,
        )
    return SUCCESS


def _apply_renamed_flags(args: argparse.Namespace) -> None:
    """Write the flags that 0.2.0 renamed as their new ones, with a warning.

    An old flag given with a new one that says otherwise is an error.
    """
    if args.schedule is not None:
        warn(
            "--schedule is deprecated and will be removed in 0.3.0: write "
            f"--learning-rate {args.schedule}"
        )
        if args.learning_rate not in (None, args.schedule):
            raise CLIError(
                f"--schedule {args.schedule} and --learning-rate "
                f"{args.learning_rate} disagree; give only --learning-rate"
            )
        args.learning_rate = args.schedule
    if args.base is not None:
        conditioner, univariate = BASE_STEPS[args.base]
        warn(
            "--base is deprecated and will be removed in 0.3.0: write "
            f"--conditioner {conditioner} --univariate {univariate}"
        )
        for option, implied in (
            ("conditioner", conditioner),
            ("univariate", univariate),
        ):
            given = getattr(args, option)
            if given not in (None, implied):
                raise CLIError(
                    f"--base {args.base} means {cli_flag(option)} {implied}, but "
                    f"{cli_flag(option)} {given} was given; give only "
                    "--conditioner and --univariate"
                )
            setattr(args, option, implied)


def score_command(args: argparse.Namespace) -> int:
    model = _for_this_run(_load(args.model_file, args.device), args)
    for option, name in (
        ("--n-importance-samples", "n_importance_samples"),
        ("--importance-tol", "importance_tol"),
    ):
        value = getattr(args, name)
        if value is None:
            continue
        if name not in model.get_params():
            raise CLIError(
                f"{option} only applies to LGF models; {args.model_file} holds "
                f"a {type(model).__name__}, whose log-density is exact"
            )
        model.set_params(**{name: value})
    table = read_table(args.data)
    _check_columns(table, model, args.model_file)
    _check_scale(table, model, args.model_file)
    if args.output is not None:
        check_writable(args.output)
    with reported_warnings():
        try:
            if args.std:
                log_density, std = model.score_samples(table.values, return_std=True)
            else:
                log_density = model.score_samples(table.values)
        except ValueError as error:  # e.g. an unavailable device
            raise CLIError(f"cannot score with {args.model_file}: {error}") from None
        # Raised inside, so that the overflow warnings behind it are dropped.
        bad = np.flatnonzero(~np.isfinite(log_density))
        if len(bad):
            raise CLIError(
                f"{table.path}, row {table.row(int(bad[0]))}: the log-density "
                f"under {args.model_file} is {log_density[bad[0]]}, not a finite "
                f"number ({len(bad)} row{'s' * (len(bad) != 1)} in all): extreme "
                "values, or a model with non-finite weights"
            )
    if args.std:
        header = None if args.output is None else ["log_density", "std"]
        write_text(args.output, csv_text(header, np.column_stack([log_density, std])))
    else:
        header = None if args.output is None else ["log_density"]
        write_text(args.output, csv_text(header, log_density))
    return SUCCESS


def sample_command(args: argparse.Namespace) -> int:
    model = _for_this_run(_load(args.model_file, args.device), args)
    if args.output is not None:
        check_writable(args.output)
    with reported_warnings():
        try:
            X = model.sample(args.n_samples, random_state=args.random_state)
        except ValueError as error:
            raise CLIError(f"cannot sample from {args.model_file}: {error}") from None
        bad = int(np.sum(~np.isfinite(X).all(axis=1)))
        if bad:
            raise CLIError(
                f"cannot sample from {args.model_file}: {bad} of the "
                f"{len(X)} rows drawn are not finite numbers (its weights are "
                "not finite or extreme: a diverged fit?)"
            )
    header = None
    if args.output is not None:
        names = getattr(model, "feature_names_in_", None)
        header = (
            [str(n) for n in names]
            if names is not None
            else [f"x{j}" for j in range(X.shape[1])]
        )
    write_text(args.output, csv_text(header, X))
    return SUCCESS


def _load(path: str, device: str | None) -> Any:
    from ..model_io import load_model

    try:
        return load_model(path, device=device)
    except FileNotFoundError:
        raise CLIError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CLIError(f"{path}: is a directory, not a model file") from None
    except OSError as error:
        raise CLIError(f"{path}: cannot read: {error.strerror or error}") from None
    except ValueError as error:
        raise CLIError(str(error)) from None


def _for_this_run(model: Any, args: argparse.Namespace) -> Any:
    """The loaded ``model`` with this command's progress and threads: a bar
    on standard error for long calls unless ``--quiet``, and ``--threads``
    as the estimator's own thread policy (which otherwise decides inside)."""
    model.set_params(verbose=0 if getattr(args, "quiet", False) else 1)
    if args.threads is not None:
        model.set_params(n_threads=args.threads)
    return model


def _check_columns(table: Table, model: Any, model_path: str) -> None:
    expected = int(model.n_features_in_)
    width = table.values.shape[1]
    if width != expected:
        raise CLIError(
            f"{table.path}: {width} column{'s' * (width != 1)}, but the model "
            f"{model_path} was fitted on {expected} feature{'s' * (expected != 1)}"
        )
    model_names = getattr(model, "feature_names_in_", None)
    if table.names is not None and model_names is not None:
        for j, (got, want) in enumerate(zip(table.names, model_names, strict=True)):
            if got != want:
                raise CLIError(
                    f"{table.path}, row 1, {column_label(j, table.names)}: the "
                    f"model {model_path} expects column {str(want)!r} there"
                )


def _check_scale(table: Table, model: Any, model_path: str) -> None:
    """Refuse values the model's float32 arithmetic cannot take.

    The models standardise each feature with the training data's location
    and scale, then square the result: beyond ``sqrt(FLOAT32_MAX)`` scale
    units (about 1.8e19) that overflows.
    """
    location = getattr(model, "location_", None)
    scale = getattr(model, "scale_", None)
    if location is None or scale is None:
        return  # the check of the results after scoring still applies
    limit = math.sqrt(FLOAT32_MAX)
    with np.errstate(over="ignore"):
        units = np.abs((table.values - location) / scale)
    bad = np.argwhere(units > limit)
    if len(bad):
        i, j = (int(k) for k in bad[0])
        raise CLIError(
            f"{table.path}, row {table.row(i)}, {column_label(j, table.names)}: "
            f"{float(table.values[i, j])!r} is {units[i, j]:.3g} times the "
            f"feature's spread away from the data {model_path} was fitted on; "
            f"the model computes in float32, which overflows beyond {limit:.2g} "
            "times"
        )
