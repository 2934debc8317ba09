"""What the command says back: one-line errors and warnings, and exit statuses.

Estimator messages name parameters as Python does (``learning_rate_init=0.1``);
a command-line user typed flags (``--learning-rate-init 0.1``), so messages are
reworded into those before they are shown.
"""

from __future__ import annotations

import contextlib
import re
import sys
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

PROG = "sklearn-lgf"

# Exit statuses. 130 and 141 follow the shell's 128 + signal number, so that
# scripts see the same status as for a process killed by SIGINT or SIGPIPE.
SUCCESS = 0
TRAINING_FAILED = 1
BAD_INPUT = 2
INTERRUPTED = 130
BROKEN_PIPE = 141

# The CLI hands estimators fitted with column names plain arrays, so
# scikit-learn's complaint about the missing names would only be noise.
_FEATURE_NAMES_WARNING = ".*does not have valid feature names"


class CLIError(Exception):
    """A problem to report in one line, with the exit status to return."""

    def __init__(self, message: str, status: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.status = status


def exit_status(code: Any) -> int:
    """The exit status for argparse's ``SystemExit`` code (``--help``, usage)."""
    if code is None:
        return SUCCESS
    if isinstance(code, int):
        return code
    return BAD_INPUT


def warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def cli_flag(option: str) -> str:
    """The flag of an argparse destination: ``max_iter`` is ``--max-iter``."""
    return "--" + option.replace("_", "-")


def in_cli_words(text: str, options: Mapping[str, str] | None) -> str:
    """``text`` with each estimator parameter named as its command-line flag.

    ``learning_rate_init=0.1`` becomes ``--learning-rate-init 0.1`` and a bare
    ``max_iter`` becomes ``--max-iter``, for the ``options`` (option name to
    parameter name) of the command that was run.
    """
    if not options:
        return text
    flags = {parameter: cli_flag(option) for option, parameter in options.items()}
    # Longest first, so that ``learning_rate_init`` is not read as
    # ``learning_rate`` followed by ``_init``.
    names = "|".join(re.escape(p) for p in sorted(flags, key=len, reverse=True))

    def replace(match: re.Match[str]) -> str:
        return flags[match.group(1)] + (" " if match.group(2) else "")

    return re.sub(rf"(?<![\w-])({names})(?:(=)|(?![\w-]))", replace, text)


@contextlib.contextmanager
def recorded_warnings(
    expected: str | None = None,
) -> Iterator[list[warnings.WarningMessage]]:
    """Record every warning raised inside, except those matching ``expected``
    (a regular expression for warnings that the caller planned for)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message=_FEATURE_NAMES_WARNING)
        if expected is not None:
            warnings.filterwarnings("ignore", message=expected)
        yield caught


def report_warnings(
    caught: list[warnings.WarningMessage], options: Mapping[str, str] | None = None
) -> None:
    """Show each distinct warning once, on one line, in command-line words."""
    seen = set()
    for item in caught:
        text = in_cli_words(" ".join(str(item.message).split()), options)
        if text not in seen:
            seen.add(text)
            warn(text)


@contextlib.contextmanager
def reported_warnings() -> Iterator[None]:
    """Show warnings raised inside as one ``sklearn-lgf: warning:`` line each.

    Only when the block succeeds: an error raised inside is reported alone,
    without the warnings that led up to it.
    """
    with recorded_warnings() as caught:
        yield
    report_warnings(caught)
