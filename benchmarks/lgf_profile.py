"""Where an LGF training step goes: at the paper's 2-D sizes, and on digits.

Run from the repository root::

    python benchmarks/lgf_profile.py                  # 2-D, ~3 min, one thread
    python benchmarks/lgf_profile.py --setup digits   # digits, ~3 min
    python benchmarks/lgf_profile.py --steps 20 --repeats 1 --output /tmp/lgf_profile.md

The models are those of ``benchmarks/engine_speed.py``'s ``d=2``
configuration (the paper's 2-D LGF-MAF): five MADE steps of [50] * 4
(affine), and for the LGF ``u`` of one dimension, ``p`` and ``q`` networks
of [50] * 4 and ``s``/``t`` networks of [10, 10]; batches of 1,000 rows,
one draw of ``u`` per row (``n_elbo_samples=1``). Each model is built by its
estimator and trained here by the engine's own step (training loss,
backward, Adam), so the figures are of the step alone:

1. **Throughput** (training rows per second, best of ``--repeats`` runs of
   ``--steps`` steps, after warm-up steps) of the MAF, of the paper's
   LGF-MAF, and of LGF-MAFs that differ in one part: ``p``/``q`` networks
   of [10, 10] (the size of ``s``/``t``), ``s``/``t`` of [2] (almost none),
   and both. The ratios LGF/MAF say what each part costs and what a model
   change would buy.
2. **Profile** of every model's steps (``torch.profiler``, CPU): the time
   of the loss, the backward pass and Adam (fused, as the package's loop
   makes it), the operators per step and the linear layers of the model.
   At 2-D the matrices are 1,000 x 50: each operator is cheap, and a
   step's time follows the number of operators, that is of layers.

``--setup digits`` times the same way ``LGFDensity()`` on digits with 4
(the default), 2 and 1 draws of ``u`` per row, beside our NSF at zuko's
size (5 x [256, 256]), on batches of 113 rows (``batch_size="auto"``), to
``results/lgf_profile_digits.md``: the cost of a draw against the work
shared by the draws.

One torch thread.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile, record_function

sys.path.insert(0, str(Path(__file__).parent))
from harness import RESULTS, ResultFile, command_line, set_threads  # noqa: E402

from sklearn_lgf import LGFDensity, MAFDensity  # noqa: E402

BATCH = 1000
COMMON: dict[str, Any] = {
    "n_layers": 5,
    "hidden_layer_sizes": (50, 50, 50, 50),
    "conditioner": "autoregressive",
    "univariate": "affine",
    "max_iter": 1,
    "batch_size": BATCH,
    "random_state": 0,
    "n_threads": 1,
    "device": "cpu",
}
PAPER_LGF: dict[str, Any] = {
    "u_dim": 1,
    "pq_hidden_layer_sizes": (50, 50, 50, 50),
    "st_hidden_layer_sizes": (10, 10),
    "n_elbo_samples": 1,
}
MODELS: dict[str, dict[str, Any] | None] = {
    "MAF": None,
    "LGF-MAF (paper)": PAPER_LGF,
    "LGF-MAF, p/q [10, 10]": {**PAPER_LGF, "pq_hidden_layer_sizes": (10, 10)},
    "LGF-MAF, s/t [2]": {**PAPER_LGF, "st_hidden_layer_sizes": (2,)},
    "LGF-MAF, p/q [10, 10], s/t [2]": {
        **PAPER_LGF,
        "pq_hidden_layer_sizes": (10, 10),
        "st_hidden_layer_sizes": (2,),
    },
}


# Digits (``--setup digits``): the default LGF with 4, 2 and 1 ELBO draws
# per row, beside our NSF at zuko's size (5 x [256, 256], the peer of
# ``time_to_quality.py``), batches of ``auto``'s 113 rows.
DIGITS_BATCH = 113
DIGITS_MODELS: dict[str, tuple[type, dict[str, Any]]] = {
    "MAFDensity(univariate='spline'), 5 x [256, 256]": (
        MAFDensity,
        {"univariate": "spline", "n_layers": 5, "hidden_layer_sizes": (256, 256)},
    ),
    "LGFDensity(), 4 draws (default)": (LGFDensity, {}),
    "LGFDensity(), 2 draws": (LGFDensity, {"n_elbo_samples": 2}),
    "LGFDensity(), 1 draw": (LGFDensity, {"n_elbo_samples": 1}),
}


def data(n: int = 20_000) -> np.ndarray:
    rng = np.random.RandomState(0)
    return np.tanh(rng.randn(n, 2) @ rng.randn(2, 2)) + 0.1 * rng.randn(n, 2)


def model_of(settings: dict[str, Any] | None) -> torch.nn.Module:
    """The engine model an estimator builds for these settings."""
    estimator = (
        MAFDensity(**COMMON) if settings is None else LGFDensity(**COMMON, **settings)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(data(2000))
    return estimator.model_


def digits_models() -> tuple[dict[str, torch.nn.Module], torch.Tensor]:
    """The digits models as their estimators build them, and batches of
    the digits' standardised training rows."""
    from harness.data import load_digits_split

    X, _ = load_digits_split()
    models = {}
    for name, (Estimator, params) in DIGITS_MODELS.items():
        estimator = Estimator(max_iter=1, random_state=0, n_threads=1, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator.fit(X)
        models[name] = estimator.model_
    rows = torch.as_tensor((X - estimator.location_) / estimator.scale_).float()
    n = (len(rows) // DIGITS_BATCH) * DIGITS_BATCH
    return models, rows[:n].reshape(-1, DIGITS_BATCH, X.shape[1])


def steps(model: torch.nn.Module, batches: torch.Tensor, n: int) -> float:
    """Seconds for ``n`` training steps (loss, backward, Adam)."""
    optimiser = adam(model)
    generator = torch.Generator().manual_seed(0)
    model.train()
    start = time.perf_counter()
    for i in range(n):
        loss = model.training_loss(batches[i % len(batches)], generator)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return time.perf_counter() - start


def adam(model: torch.nn.Module) -> torch.optim.Adam:
    # Fused, as the package's training loop makes it on the CPU.
    return torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)


def phases(model: torch.nn.Module, batches: torch.Tensor, n: int) -> dict[str, float]:
    """Milliseconds per step in the loss, the backward pass and Adam, and
    the operators per step, from ``torch.profiler``."""
    optimiser = adam(model)
    generator = torch.Generator().manual_seed(0)
    model.train()

    def step(i: int) -> None:
        with record_function("loss"):
            loss = model.training_loss(batches[i % len(batches)], generator)
        optimiser.zero_grad(set_to_none=True)
        with record_function("backward"):
            loss.backward()
        with record_function("adam"):
            optimiser.step()

    for i in range(3):
        step(i)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(n):
            step(i)
    events = {e.key: e for e in prof.key_averages()}
    found = {
        k: events[k].cpu_time_total / n / 1e3 for k in ("loss", "backward", "adam")
    }
    found["operators"] = (
        sum(e.count for e in events.values() if e.key.startswith("aten::")) / n
    )
    return found


def linear_layers(model: torch.nn.Module) -> int:
    return sum(isinstance(m, torch.nn.Linear) for m in model.modules())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--setup", choices=["2d", "digits"], default="2d")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    set_threads(1)
    suffix = "" if args.setup == "2d" else "_digits"
    output = args.output or RESULTS / f"lgf_profile{suffix}.md"
    report = ResultFile(output, command_line(__file__, sys.argv[1:]))
    if args.setup == "digits":
        models, batches = digits_models()
        reference = next(iter(models))
    else:
        X = torch.as_tensor(data(), dtype=torch.float32)
        X = (X - X.mean(0)) / X.std(0)
        batches = X[: (len(X) // BATCH) * BATCH].reshape(-1, BATCH, 2)
        models = {name: model_of(settings) for name, settings in MODELS.items()}
        reference = "MAF"
    batch = batches.shape[1]
    for model in models.values():
        steps(model, batches, 10)  # warm-up
    # Interleaved repeats: load from other processes hits every model alike.
    seconds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():
            seconds[name].append(steps(model, batches, args.steps))
    rate = {name: args.steps * batch / min(s) for name, s in seconds.items()}
    parameters = {
        name: sum(p.numel() for p in model.parameters())
        for name, model in models.items()
    }
    if args.setup == "digits":
        title = "# LGFDensity()'s training step on digits (issue 25, point 2)"
        what = (
            f"- digits (`harness.data.load_digits_split`), batches of {batch} "
            "rows (`auto`); the default LGF with 4, 2 and 1 draws of u per row "
            "and our NSF at zuko's size"
        )
    else:
        title = "# LGF-MAF training step against its MAF, 2-D (issue 25, point 3)"
        what = (
            f"- `benchmarks/engine_speed.py`'s d=2 models, batches of {batch}, "
            "one draw of u per row"
        )
    lines = [
        title,
        "",
        f"- command: `{report.command.strip()}`",
        f"{what}; training rows per second, best of {args.repeats} interleaved "
        f"runs of {args.steps} steps (loss, backward, Adam); one thread",
        "",
        f"| model | parameters | rows/s | / {reference} |",
        "|---|---|---|---|",
    ]
    for name in models:
        lines.append(
            f"| {name} | {parameters[name]:,} | {rate[name] / 1e3:.1f}k | "
            f"{rate[name] / rate[reference]:.2f} |"
        )
    lines += [
        "",
        "Where a step's time goes (`torch.profiler`, 20 steps; milliseconds per "
        "step, operators per step, and the model's linear layers):",
        "",
        "| model | linear layers | operators per step | loss ms | backward ms | "
        "Adam ms | step ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, model in models.items():
        found = phases(model, batches, 20)
        total = found["loss"] + found["backward"] + found["adam"]
        lines.append(
            f"| {name} | {linear_layers(model)} | {found['operators']:.0f} | "
            f"{found['loss']:.2f} | {found['backward']:.2f} | {found['adam']:.2f} | "
            f"{total:.2f} |"
        )
    report.finish("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
