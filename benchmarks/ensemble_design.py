"""Do ensembles of LGF detectors rank anomalies better than one? (design seeds)

Run from the repository root::

    python benchmarks/ensemble_design.py [--seeds 10 11 12] [--sets Pima cardio]

On ADBench design splits (seeds 10+, never the reported seeds 0-2; the data
README's protocol otherwise), ``make_pipeline(StandardScaler(),
DensityOutlierDetector(LGFDensity(random_state=s, univariate=...),
random_state=seed))`` is fitted for three model seeds ``s`` and both step
types, each on the same rows; the test rows' scores (the detector's
``score_samples``: the ELBO) are then combined by their mean (a product of
the experts' densities, which ranks rows as the mean log-density does) and
the ROC-AUC of each is reported: one model, three seeds of one step type,
and one model of each step type. One torch thread.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
from harness import RESULTS, ResultFile, Timer, command_line, set_threads  # noqa: E402
from harness.data import adbench_split, load_adbench  # noqa: E402

from sklearn_lgf import DensityOutlierDetector, LGFDensity  # noqa: E402

MODEL_SEEDS = (0, 1, 2)
STEPS = ("spline", "affine")


def test_scores(
    X_train: np.ndarray, X_test: np.ndarray, seed: int, steps: str, model_seed: int
) -> tuple[np.ndarray, float]:
    """The detector's scores of the test rows, and its fit seconds."""
    detector = make_pipeline(
        StandardScaler(),
        DensityOutlierDetector(
            LGFDensity(univariate=steps, random_state=model_seed, n_threads=1),
            random_state=seed,
        ),
    )
    clock = Timer()
    detector.fit(X_train)
    seconds = clock.seconds
    return detector.score_samples(X_test), seconds


def combined_auc(
    y_test: np.ndarray,
    scores: dict[tuple[str, int], np.ndarray],
    members: tuple[tuple[str, int], ...],
) -> str:
    """The ROC-AUC of the mean score of ``members`` (steps, model seed)."""
    combined = np.mean([scores[m] for m in members], axis=0)
    return f"{roc_auc_score(y_test, -combined):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12])
    parser.add_argument("--sets", nargs="+", default=["Pima", "cardio"])
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "adbench_ensemble_design.md"
    )
    args = parser.parse_args()
    set_threads(1)
    report = ResultFile(args.output, command_line(__file__, sys.argv[1:]))
    header = (
        "# LGF detector ensembles (ADBench design seeds)\n\n"
        f"- command: `{report.command.strip()}`\n"
        "- each model: StandardScaler + DensityOutlierDetector(LGFDensity("
        "univariate=steps, random_state=model seed), random_state=split seed), "
        "scored by the detector (ELBO); an ensemble's score is the mean of its "
        "models' scores; one thread\n\n"
        "| data | split seed | spline, seed 0 | spline, 3 seeds | affine, seed 0 "
        "| affine, 3 seeds | spline + affine (seed 0) | all 6 | fit s (6 models) |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    rows: list[str] = []
    for name in args.sets:
        X, y = load_adbench(name)
        for seed in args.seeds:
            X_train, X_test, y_test = adbench_split(X, y, seed)
            scores: dict[tuple[str, int], np.ndarray] = {}
            seconds = 0.0
            for steps in STEPS:
                for model_seed in MODEL_SEEDS:
                    s, t = test_scores(X_train, X_test, seed, steps, model_seed)
                    scores[steps, model_seed] = s
                    seconds += t

            ensembles = [
                (("spline", 0),),
                tuple(("spline", s) for s in MODEL_SEEDS),
                (("affine", 0),),
                tuple(("affine", s) for s in MODEL_SEEDS),
                (("spline", 0), ("affine", 0)),
                tuple(scores),
            ]
            cells = [combined_auc(y_test, scores, members) for members in ensembles]
            rows.append(f"| {name} | {seed} | {' | '.join(cells)} | {seconds:.0f} |")
            report.clock.log(rows[-1])
            report.update(header + "\n".join(rows) + "\n")
    report.finish(header + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
