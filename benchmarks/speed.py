"""Speed benchmark: MAFDensity against zuko's MAF, and LGFDensity's costs.

Run from the repository root::

    python benchmarks/speed.py                 # full run (<= ~10 min on 2 CPU cores)
    python benchmarks/speed.py --quick         # smoke run (~1 min)
    python benchmarks/speed.py --device cuda   # everything on the GPU

It prints one markdown report and writes it to ``--output``
(default ``benchmarks/results/speed.md``). Sections:

A. ``MAFDensity`` against ``zuko.flows.MAF`` with the same architecture
   (5 affine MADE steps, order reversed between steps) at d=43 with
   [512, 512] hidden units and at d=2 with [50]*4: training, scoring and
   sampling throughput and the ratios ours/zuko.
B. ``LGFDensity`` (LGF-MAF) training throughput relative to ``MAFDensity``
   with the same base flow.
C. LGF importance-sampling scoring throughput, in (rows x K)/s, relative to
   the model's own single-draw forward pass (``log_weights``) on n*K rows.
D. Peak memory while scoring an LGF with K importance samples, each in a
   fresh subprocess (peak RSS on the CPU, ``torch.cuda.max_memory_allocated``
   on CUDA); it must not grow with rows x K.
E. ``MAFDensity(base="spline")`` against ``zuko.flows.NSF`` with the same
   architecture at d=43, [512, 512]: as A.

Timings are wall clock, best of ``--repeats`` runs (the median is shown next
to it); the contenders of a comparison run interleaved, so load from other
processes hits both alike. ``zuko`` is a benchmark-only dependency
(``pip install zuko``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sklearn
import torch
from harness import (
    REPO,
    RESULTS,
    ResultFile,
    add_quick,
    add_threads,
    command_line,
    count_parameters,
    cpu_name,
    make_parser,
    markdown_table,
    set_threads,
    timed_fit,
    timestamp,
    zuko_version,
)

from sklearn_lgf import LGFDensity, MAFDensity

# Rows x importance samples per forward pass, as LGFDensity uses while scoring.
from sklearn_lgf.nn.chunks import ROW_SAMPLE_BUDGET

# zuko NSF's tail bound, given to MAFDensity(base="spline") in section E.
ZUKO_TAIL_BOUND = 5.0
# Fixed training settings shared by every contender (the protocol).
BATCH_SIZE = 1000
LEARNING_RATE = 1e-3
NO_STOPPING = {
    "early_stopping": False,
    "batch_size": BATCH_SIZE,
    "learning_rate_init": LEARNING_RATE,
    "tol": 0.0,
    "n_iter_no_change": 10**9,
}


# --------------------------------------------------------------------- data
def tabular_data(n: int, d: int, seed: int) -> np.ndarray:
    """A random-MLP-transformed correlated Gaussian (non-Gaussian, dense)."""
    rng = np.random.RandomState(seed)
    z = rng.standard_normal((n, d))
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    hidden = np.tanh(z @ (rng.standard_normal((d, 64)) / np.sqrt(d)))
    return z @ mix + 0.5 * hidden @ (rng.standard_normal((64, d)) / 8.0)


def ring_data(n: int, seed: int) -> np.ndarray:
    """Eight Gaussians on a circle: the disconnected 2-D target LGF is for."""
    rng = np.random.RandomState(seed)
    angle = 2 * np.pi * rng.randint(0, 8, size=n) / 8
    centres = 4.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return centres + 0.4 * rng.standard_normal((n, 2))


def make_data(n: int, d: int, seed: int) -> np.ndarray:
    return ring_data(n, seed) if d == 2 else tabular_data(n, d, seed)


# ------------------------------------------------------------------- timing
@dataclass
class Timing:
    """Wall-clock times of repeated runs of one contender."""

    work: float  # rows (or row-samples) processed by one run
    times: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return self.work / min(self.times)

    @property
    def median(self) -> float:
        return self.work / statistics.median(self.times)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# A comparison repeats until it has run for this long (cheap measurements get
# more repeats, so that their best is less at the mercy of background load)...
MIN_SECONDS = {"quick": 1.0, "full": 4.0}
MAX_REPEATS = 15  # ...but at most this many times.


def race(
    contenders: dict[str, tuple[float, Callable[[], Any]]],
    repeats: int,
    device: torch.device,
    min_seconds: float = 0.0,
) -> dict[str, Timing]:
    """Time each ``(work, fn)`` at least ``repeats`` times, interleaved with
    alternating starting order, so that background load affects every
    contender alike; repeat further (up to ``MAX_REPEATS``) until
    ``min_seconds`` have passed."""
    timings = {name: Timing(work) for name, (work, _) in contenders.items()}
    names = list(contenders)
    began = time.perf_counter()
    r = 0
    while r < repeats or (
        time.perf_counter() - began < min_seconds and r < MAX_REPEATS
    ):
        order = names if r % 2 == 0 else names[::-1]
        r += 1
        for name in order:
            fn = contenders[name][1]
            gc.collect()
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            timings[name].times.append(time.perf_counter() - start)
    return timings


def fmt_rate(rate: float) -> str:
    if rate >= 1e6:
        return f"{rate / 1e6:.2f}M"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f}k"
    return f"{rate:.0f}"


def fmt_timing(t: Timing) -> str:
    return f"{fmt_rate(t.best)} ({fmt_rate(t.median)})"


def verdict(ratio: float, target: float | None) -> str:
    if target is None:
        return ""
    return "yes" if ratio >= target else "**no**"


# ---------------------------------------------------------------- settings
@dataclass
class FlowConfig:
    name: str
    d: int
    n_layers: int
    hidden: tuple[int, ...]
    n_train: int
    epochs: int
    n_score: int
    n_sample: int
    # LGF (sections B and C)
    u_dim: int
    pq_hidden: tuple[int, ...]
    st_hidden: tuple[int, ...]
    lgf_epochs: int
    lgf_score_chunks: int  # rows scored with K samples, in LGFDensity's chunks


def configs(quick: bool, device: torch.device) -> list[FlowConfig]:
    """The two architectures of the issue, sized for the run and the device."""
    gpu = device.type == "cuda"
    tabular = {"name": "d=43", "d": 43, "n_layers": 5, "hidden": (512, 512)}
    tabular_lgf = {"u_dim": 10, "pq_hidden": (128, 128), "st_hidden": (128, 128)}
    planar = {"name": "d=2", "d": 2, "n_layers": 5, "hidden": (50,) * 4}
    planar_lgf = {"u_dim": 1, "pq_hidden": (50,) * 4, "st_hidden": (10, 10)}
    if quick:
        sizes_43 = {"n_train": 3000, "epochs": 1, "n_score": 3000, "n_sample": 256}
        sizes_2 = {"n_train": 5000, "epochs": 1, "n_score": 5000, "n_sample": 5000}
        lgf_43 = {"lgf_epochs": 1, "lgf_score_chunks": 1}
        lgf_2 = {"lgf_epochs": 1, "lgf_score_chunks": 2}
    elif gpu:
        sizes_43 = {"n_train": 20000, "epochs": 5, "n_score": 20000, "n_sample": 20000}
        sizes_2 = {"n_train": 20000, "epochs": 10, "n_score": 20000, "n_sample": 20000}
        lgf_43 = {"lgf_epochs": 5, "lgf_score_chunks": 2}
        lgf_2 = {"lgf_epochs": 10, "lgf_score_chunks": 20}
    else:
        # zuko inverts a MADE step with d full passes: 1024 samples at d=43
        # already take it seconds on a CPU.
        sizes_43 = {"n_train": 20000, "epochs": 1, "n_score": 20000, "n_sample": 1024}
        sizes_2 = {"n_train": 20000, "epochs": 3, "n_score": 20000, "n_sample": 20000}
        lgf_43 = {"lgf_epochs": 1, "lgf_score_chunks": 2}
        lgf_2 = {"lgf_epochs": 2, "lgf_score_chunks": 5}
    return [
        FlowConfig(**tabular, **sizes_43, **tabular_lgf, **lgf_43),
        FlowConfig(**planar, **sizes_2, **planar_lgf, **lgf_2),
    ]


def maf_estimator(
    cfg: FlowConfig, epochs: int, device: str, base: str = "made"
) -> MAFDensity:
    # zuko's NSF bound, so that the two splines are the same function class.
    spline = {"tail_bound": ZUKO_TAIL_BOUND} if base == "spline" else {}
    return MAFDensity(
        n_layers=cfg.n_layers,
        hidden_layer_sizes=cfg.hidden,
        base=base,
        **spline,
        max_iter=epochs,
        device=device,
        random_state=0,
        **NO_STOPPING,
    )


def lgf_estimator(cfg: FlowConfig, epochs: int, device: str, k: int) -> LGFDensity:
    return LGFDensity(
        n_layers=cfg.n_layers,
        hidden_layer_sizes=cfg.hidden,
        base="made",
        u_dim=cfg.u_dim,
        pq_hidden_layer_sizes=cfg.pq_hidden,
        st_hidden_layer_sizes=cfg.st_hidden,
        n_importance_samples=k,
        max_iter=epochs,
        device=device,
        random_state=0,
        **NO_STOPPING,
    )


def train_loop(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    epochs: int,
    seed: int = 0,
) -> None:
    """The idiomatic hand-written loop: Adam, shuffled minibatches of 1000."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    generator = torch.Generator(device=x.device).manual_seed(seed)
    n = x.shape[0]
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator, device=x.device)
        for start in range(0, n, BATCH_SIZE):
            loss = loss_fn(x[order[start : start + BATCH_SIZE]])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


# ------------------------------------------------- A: MAFDensity vs zuko
def new_zuko_maf(cfg: FlowConfig, device: torch.device, kind: str = "MAF") -> Any:
    """zuko's MAF (or NSF) with our architecture; zuko's defaults otherwise
    (for the NSF: 8 bins on [-5, 5], as ``MAFDensity(base="spline")``)."""
    import zuko

    torch.manual_seed(0)
    build = zuko.flows.NSF if kind == "NSF" else zuko.flows.MAF
    flow = build(cfg.d, transforms=cfg.n_layers, hidden_features=list(cfg.hidden))
    return flow.to(device)


ARCHITECTURE_NOTE = """\
Same architecture: 5 MADE affine steps, ReLU hidden units, the feature order
reversed between steps (zuko: ascending/descending masks alternate; ours: a
flip between steps), a standard normal base, equal parameter counts.
Differences that remain (none changes the arithmetic of a forward pass):
(1) the log-scale bound: zuko `a / (1 + |a| / 6.9)` (`slope=1e-3`), ours
`5 tanh(a / 5)`; (2) hidden-unit degrees: zuko cycles through them, ours
sorts them into contiguous blocks (same masks up to a permutation of the
units); (3) the inverse: zuko runs d fixed-point passes of the whole MADE,
ours one pass's arithmetic in d blocks (what the sorted degrees are for).
Both initialise the masked layers as torch's `nn.Linear` does.\
"""


def zuko_loss(flow: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: -flow().log_prob(x).mean()


def ratio_row(
    cfg: FlowConfig, what: str, ours: Timing, theirs: Timing, target: float
) -> list[str]:
    ratio = ours.best / theirs.best
    return [
        cfg.name,
        what,
        fmt_timing(ours),
        fmt_timing(theirs),
        f"{ratio:.2f}",
        f">= {target:g}",
        verdict(ratio, target),
    ]


def maf_vs_zuko(
    cfg: FlowConfig,
    device: torch.device,
    repeats: int,
    min_seconds: float,
    kind: str = "MAF",
) -> tuple[list[list[str]], list[str]]:
    """Section A (``kind="MAF"``) or E (``"NSF"``) for one configuration:
    table rows and parameter counts."""
    base = "spline" if kind == "NSF" else "made"
    section = "E" if kind == "NSF" else "A"
    print(f"[{section}] {cfg.name}: training", flush=True)
    X = make_data(cfg.n_train, cfg.d, seed=1)
    X_score = make_data(cfg.n_score, cfg.d, seed=2)
    location, scale = X.mean(0), X.std(0)
    x_t = torch.as_tensor((X - location) / scale, dtype=torch.float32).to(device)
    xs_t = torch.as_tensor((X_score - location) / scale, dtype=torch.float32)
    xs_t = xs_t.to(device)
    fitted: dict[str, Any] = {}

    def fit_ours() -> None:
        estimator = maf_estimator(cfg, cfg.epochs, device.type, base)
        fitted["ours"] = timed_fit(estimator, X)[0]

    def fit_engine() -> None:
        estimator = maf_estimator(cfg, 1, device.type, base)
        model = estimator._build_model(cfg.d).to(device)
        train_loop(model, model.training_loss, x_t, cfg.epochs)

    def fit_zuko() -> None:
        flow = new_zuko_maf(cfg, device, kind)
        train_loop(flow, zuko_loss(flow), x_t, cfg.epochs)
        fitted["zuko"] = flow

    # Warm-up (allocator, kernels, lazy initialisation), not timed.
    timed_fit(maf_estimator(cfg, 1, device.type, base), X[: 2 * BATCH_SIZE])
    warm_flow = new_zuko_maf(cfg, device, kind)
    train_loop(warm_flow, zuko_loss(warm_flow), x_t[: 2 * BATCH_SIZE], 1)
    work = float(cfg.n_train * cfg.epochs)
    train = race(
        {
            "ours": (work, fit_ours),
            "engine": (work, fit_engine),
            "zuko": (work, fit_zuko),
        },
        repeats,
        device,
        min_seconds,
    )
    est: MAFDensity = fitted["ours"]
    flow = fitted["zuko"].eval()
    params = [
        cfg.name,
        f"{count_parameters(est.model_):,}",
        f"{count_parameters(flow):,}",
    ]

    print(f"[{section}] {cfg.name}: scoring", flush=True)
    # zuko gets the batch size that is fastest for it here (one timed pass each).
    batch, best = cfg.n_score, float("inf")
    for candidate in sorted({1024, 8192, cfg.n_score}):
        with torch.no_grad():
            synchronize(device)
            start = time.perf_counter()
            for chunk in xs_t.split(candidate):
                flow().log_prob(chunk)
            synchronize(device)
        elapsed = time.perf_counter() - start
        if elapsed < best:
            batch, best = candidate, elapsed
    est.score_samples(X_score[:BATCH_SIZE])  # warm-up

    def score_zuko() -> None:
        with torch.no_grad():
            torch.cat([flow().log_prob(chunk) for chunk in xs_t.split(batch)])

    score = race(
        {
            "ours": (cfg.n_score, lambda: est.score_samples(X_score)),
            "zuko": (cfg.n_score, score_zuko),
        },
        repeats,
        device,
        min_seconds,
    )

    print(f"[{section}] {cfg.name}: sampling", flush=True)
    n = cfg.n_sample

    def sample_zuko() -> None:
        with torch.no_grad():
            flow().sample((n,))

    est.sample(16, random_state=0)  # warm-up
    with torch.no_grad():
        flow().sample((16,))
    sample = race(
        {
            "ours": (n, lambda: est.sample(n, random_state=0)),
            "zuko": (n, sample_zuko),
        },
        repeats,
        device,
        min_seconds,
    )
    what = f"train, `fit` ({cfg.n_train} rows x {cfg.epochs} ep)"
    rows = [
        ratio_row(cfg, what, train["ours"], train["zuko"], 1.0),
        ratio_row(
            cfg, "train, engine only (same loop)", train["engine"], train["zuko"], 1.0
        ),
        ratio_row(
            cfg,
            f"score ({cfg.n_score} rows; zuko batch {batch})",
            score["ours"],
            score["zuko"],
            1.0,
        ),
        ratio_row(
            cfg,
            f"sample ({n} rows)",
            sample["ours"],
            sample["zuko"],
            2.0 if cfg.d == 43 else 1.0,
        ),
    ]
    return rows, params


def section_a(
    cfgs: list[FlowConfig],
    device: torch.device,
    repeats: int,
    min_seconds: float,
    kind: str = "MAF",
) -> tuple[str, list[str]]:
    notes: list[str] = []
    rows: list[list[str]] = []
    params_rows: list[list[str]] = []
    for cfg in cfgs:
        cfg_rows, params = maf_vs_zuko(cfg, device, repeats, min_seconds, kind)
        rows += cfg_rows
        params_rows.append(params)
        if params[1] != params[2]:
            section = "E" if kind == "NSF" else "A"
            notes.append(f"{section}, {cfg.name}: the parameter counts differ.")
    header = ["config", "measure", "ours rows/s", "zuko rows/s", "ours/zuko"]
    text = markdown_table([*header, "target", "met"], rows)
    text += (
        "\n\nParameters (ours: `sum(p.numel() for p in est.model_.parameters())`, "
        "zuko: `sum(p.numel() for p in flow.parameters())`):\n\n"
    )
    text += markdown_table(["config", "ours", "zuko"], params_rows)
    return text, notes


# ------------------------------------------- B and C: LGF training, scoring
def lgf_vs_maf(
    cfg: FlowConfig, device: torch.device, repeats: int, k: int, min_seconds: float
) -> tuple[list[str], list[str]]:
    """Sections B and C for one configuration: one table row each."""
    print(f"[B] {cfg.name}: LGF vs MAF training", flush=True)
    X = make_data(cfg.n_train, cfg.d, seed=1)
    fitted: dict[str, LGFDensity] = {}

    def fit_lgf() -> None:
        est = lgf_estimator(cfg, cfg.lgf_epochs, device.type, k)
        fitted["lgf"] = timed_fit(est, X)[0]

    def fit_maf() -> None:
        timed_fit(maf_estimator(cfg, cfg.lgf_epochs, device.type), X)

    timed_fit(lgf_estimator(cfg, 1, device.type, k), X[: 2 * BATCH_SIZE])
    timed_fit(maf_estimator(cfg, 1, device.type), X[: 2 * BATCH_SIZE])
    work = float(cfg.n_train * cfg.lgf_epochs)
    train = race(
        {"lgf": (work, fit_lgf), "maf": (work, fit_maf)}, repeats, device, min_seconds
    )
    ratio = train["lgf"].best / train["maf"].best
    est = fitted["lgf"]
    row_b = [
        cfg.name,
        f"u_dim {cfg.u_dim}, pq {list(cfg.pq_hidden)}, st {list(cfg.st_hidden)}",
        f"{cfg.n_train} x {cfg.lgf_epochs}",
        fmt_timing(train["lgf"]),
        fmt_timing(train["maf"]),
        f"{ratio:.2f}",
        ">= 0.7",
        verdict(ratio, 0.7),
        f"{count_parameters(est.model_):,}",
    ]

    print(f"[C] {cfg.name}: importance-sampling scoring, K={k}", flush=True)
    budget = ROW_SAMPLE_BUDGET.get(device.type, 8192)
    # Whole chunks of rows: LGFDensity pads the last chunk (at most one
    # chunk's work is wasted per call), which is not what is measured here.
    n = cfg.lgf_score_chunks * max(1, budget // k)
    X_score = make_data(n, cfg.d, seed=2)
    model = est.model_
    z = torch.as_tensor(est._standardisation().values(X_score), dtype=torch.float32)
    tiled = z.repeat_interleave(k, dim=0).to(device)
    shape = (n * k, model.n_indexed, model.u_dim)
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    noise = noise.to(device)

    def raw() -> None:
        with torch.no_grad():
            for start in range(0, n * k, budget):
                stop = start + budget
                model.log_weights(tiled[start:stop], noise[start:stop])

    est.score_samples(X_score[:2])  # warm-up
    raw()
    work = float(n * k)
    scoring = race(
        {
            "score_samples": (work, lambda: est.score_samples(X_score)),
            "log_weights": (work, raw),
        },
        repeats,
        device,
        min_seconds,
    )
    ratio = scoring["score_samples"].best / scoring["log_weights"].best
    row_c = [
        cfg.name,
        f"{n} x {k}",
        fmt_timing(scoring["score_samples"]),
        fmt_timing(scoring["log_weights"]),
        f"{ratio:.2f}",
        "~ 1.0",
        "yes" if ratio >= 0.9 else "**no**",
    ]
    return row_b, row_c


def section_bc(
    cfgs: list[FlowConfig],
    device: torch.device,
    repeats: int,
    k: int,
    min_seconds: float,
) -> tuple[str, str]:
    rows_b, rows_c = [], []
    for cfg in cfgs:
        row_b, row_c = lgf_vs_maf(cfg, device, repeats, k, min_seconds)
        rows_b.append(row_b)
        rows_c.append(row_c)
    text_b = markdown_table(
        [
            "config (base: 5 MADE steps)",
            "LGF extras",
            "rows x epochs",
            "LGF rows/s",
            "MAF rows/s",
            "LGF/MAF",
            "target",
            "met",
            "LGF params",
        ],
        rows_b,
    )
    text_c = markdown_table(
        [
            "config",
            "rows x K",
            "`score_samples` (rows x K)/s",
            "`log_weights` row-samples/s",
            "ratio",
            "target",
            "met (>= 0.9)",
        ],
        rows_c,
    )
    budget = ROW_SAMPLE_BUDGET.get(device.type, 8192)
    text_c += (
        "\n\n`log_weights`: the engine's single-draw forward pass, "
        "`est.model_.log_weights(rows, noise)` under `torch.no_grad()`, on the "
        f"n*K tiled rows in chunks of {budget} rows (LGFDensity's row-sample "
        "budget on this device); its inputs are built outside the timer."
    )
    return text_b, text_c


# ------------------------------------------------------------ D: memory
def memory_child(args: argparse.Namespace) -> None:
    """Runs in a fresh interpreter: score n rows with K samples, report peak."""
    torch.set_num_threads(args.threads)
    with open(args.memory_child, "rb") as f:
        est = pickle.load(f)
    est.set_params(n_importance_samples=args.k, device=args.device)
    X = ring_data(args.n, seed=3)
    device = torch.device(args.device)
    est._fitted_model()
    gc.collect()
    reset = False
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
    else:
        try:  # Linux >= 4.0: reset the peak RSS to the current RSS
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            reset = True
        except OSError:
            pass
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    est.score_samples(X)
    synchronize(device)
    elapsed = time.perf_counter() - start
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "baseline": baseline,
                "peak": peak,
                "seconds": elapsed,
                "reset": reset,
            }
        )
    )


def section_d(
    device: torch.device, quick: bool, threads: int, k_small: int
) -> tuple[str, list[str]]:
    notes: list[str] = []
    gpu = device.type == "cuda"
    X = ring_data(4000, seed=1)
    unused = {"n_train": 4000, "epochs": 1, "n_score": 0, "n_sample": 0}
    unused |= {"lgf_epochs": 1, "lgf_score_chunks": 0}
    reference = FlowConfig(
        "d=2",
        2,
        5,
        (50,) * 4,
        u_dim=1,
        pq_hidden=(50,) * 4,
        st_hidden=(10, 10),
        **unused,
    )
    small = FlowConfig(
        "d=2", 2, 2, (16,), u_dim=1, pq_hidden=(16,), st_hidden=(8,), **unused
    )
    ref_label = "5 x [50]*4, u 1, pq [50]*4, st [10,10]"
    small_label = "2 x [16], u 1, pq [16], st [8]"
    if quick:
        plan = [(small, small_label, 1000, 1000), (small, small_label, 2000, 2000)]
    elif gpu:
        plan = [
            (reference, ref_label, 10000, 1000),
            (reference, ref_label, 20000, 2000),
        ]
    else:
        # On the CPU the reference model needs minutes for 10k x 1000; the
        # full sizes run on a small model, the reference on fewer rows.
        plan = [
            (small, small_label, 10000, 1000),
            (small, small_label, 20000, 2000),
            (reference, ref_label, 100, 1000),
            (reference, ref_label, 200, 2000),
        ]
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        paths: dict[str, str] = {}
        for cfg, label, n, k in plan:
            if label not in paths:
                est = timed_fit(lgf_estimator(cfg, 1, "cpu", k_small), X)[0]
                paths[label] = os.path.join(tmp, f"lgf{len(paths)}.pkl")
                with open(paths[label], "wb") as f:
                    pickle.dump(est, f)
            print(f"[D] {label}: {n} rows x K={k}", flush=True)
            command = [
                sys.executable,
                __file__,
                "--memory-child",
                paths[label],
                "--n",
                str(n),
                "--k",
                str(k),
                "--device",
                device.type,
                "--threads",
                str(threads),
            ]
            out = subprocess.run(
                command, capture_output=True, text=True, check=True, cwd=REPO
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            if not gpu and not result["reset"]:
                notes.append(
                    "D: the peak RSS could not be reset after start-up; the "
                    "increase may be hidden by the import peak."
                )
            mib = 1024**2
            rows.append(
                [
                    label,
                    f"{n} x {k}",
                    f"{result['baseline'] / mib:.1f}",
                    f"{result['peak'] / mib:.1f}",
                    f"{(result['peak'] - result['baseline']) / mib:.1f}",
                    f"{result['seconds']:.1f}",
                    fmt_rate(n * k / result["seconds"]),
                ]
            )
    what = "allocated" if gpu else "RSS"
    text = markdown_table(
        [
            "2-D LGF model",
            "rows x K",
            f"{what} before (MiB)",
            f"peak {what} (MiB)",
            "increase (MiB)",
            "seconds",
            "(rows x K)/s",
        ],
        rows,
    )
    if gpu:
        text += (
            "\n\nCUDA: `torch.cuda.max_memory_allocated()` during `score_samples`"
            " minus `memory_allocated()` before it, in a fresh process."
        )
    else:
        text += (
            "\n\nCPU: peak RSS (`ru_maxrss`, reset to the current RSS through "
            "`/proc/self/clear_refs` just before scoring) minus the RSS before "
            "scoring, in a fresh process per row. An increase of 0 means the "
            "scoring fitted in memory the process already held."
        )
    return text, list(dict.fromkeys(notes))


# -------------------------------------------------------------------- main
def header(device: torch.device, args: argparse.Namespace, command: str) -> str:
    """What the figures depend on: versions, device, CPU, threads, the command."""
    gpu = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    lines = [
        "# Speed benchmark" + (" (quick)" if args.quick else ""),
        "",
        f"- date: {timestamp()}",
        f"- torch {torch.__version__}, zuko {zuko_version() or 'not installed'}, "
        f"scikit-learn {sklearn.__version__}, Python {platform.python_version()}",
        f"- device: {device}{gpu}",
        f"- CPU: {cpu_name()}, {os.cpu_count()} logical cores, "
        f"torch threads: {torch.get_num_threads()}",
        f"- repeats: at least {args.repeats} (more for quick measurements, "
        f"up to {MAX_REPEATS}); figures are best (median) of the repeats, "
        "in rows (or row-samples) per second",
        f"- command: `{command}`",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = make_parser(__doc__, RESULTS / "speed.md")
    add_quick(parser)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--repeats", type=int, default=None)
    add_threads(parser, None)
    parser.add_argument(
        "--sections", default="ABCDE", help="subset of the sections, e.g. AB"
    )
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args)
        return
    args.threads = set_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but CUDA is not available")
    if args.repeats is None:
        args.repeats = 2 if args.quick else 3
    cfgs = configs(args.quick, device)
    min_seconds = MIN_SECONDS["quick" if args.quick else "full"]
    k = 100
    report = ResultFile(args.output, command_line(__file__))
    parts = [header(device, args, report.command)]
    notes: list[str] = []

    def render() -> str:
        """The report of the sections done so far."""
        done = list(parts)
        if notes:
            done += ["## Notes", "\n".join(f"- {n}" for n in notes)]
        done.append(f"Total benchmark time: {report.clock.seconds:.0f} s.")
        return "\n\n".join(done) + "\n"

    sections = args.sections.upper()
    if ("A" in sections or "E" in sections) and zuko_version() is None:
        notes.append("A and E skipped: zuko is not installed (`pip install zuko`).")
        sections = sections.replace("A", "").replace("E", "")
    if "A" in sections:
        text, extra = section_a(cfgs, device, args.repeats, min_seconds)
        notes += extra
        parts += [
            "## A. MAFDensity vs zuko.flows.MAF (same architecture)",
            "Training: ours is `MAFDensity(..., max_iter=E, early_stopping=False, "
            "batch_size=1000, tol=0, n_iter_no_change=10**9).fit(X)` on float64 "
            "numpy data, everything included; *engine only* is our torch model "
            "in the same hand-written Adam loop as zuko's "
            "(`loss = -flow().log_prob(x).mean()`). Scoring: `score_samples` "
            "(numpy in, numpy out) vs `flow().log_prob(x)` under `no_grad` on a "
            "device tensor in zuko's fastest batch size. Sampling: `sample(n)` "
            "vs `flow().sample((n,))` under `no_grad`.",
            text,
            ARCHITECTURE_NOTE,
        ]
        report.update(render())
    if "B" in sections or "C" in sections:
        text_b, text_c = section_bc(cfgs, device, args.repeats, k, min_seconds)
        parts += [
            "## B. LGFDensity training throughput relative to MAFDensity",
            "Both `fit` with the same base flow, data and protocol as in A.",
            text_b,
            f"## C. LGF importance-sampling scoring, K = {k}",
            text_c,
        ]
        report.update(render())
    if "D" in sections:
        text, extra = section_d(device, args.quick, args.threads, k)
        notes += extra
        parts += ["## D. Peak memory of LGF scoring (must stay flat)", text]
        report.update(render())
    if "E" in sections:
        # The tabular size only: the target for spline flows.
        text, extra = section_a(cfgs[:1], device, args.repeats, min_seconds, "NSF")
        notes += extra
        parts += [
            '## E. MAFDensity(base="spline") vs zuko.flows.NSF (same architecture)',
            "As A, with rational-quadratic spline steps: 8 bins on [-5, 5] with "
            "identity tails in both, 3 * 8 - 1 = 23 conditioner outputs per "
            "feature. zuko inverts each step with d passes of its MADE; ours "
            "with one pass's arithmetic, the spline inverted feature by feature.",
            text,
        ]
    print()
    report.finish(render())


if __name__ == "__main__":
    main()
