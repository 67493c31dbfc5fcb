"""Robustness measured on a runtime without gradients (docs/method.md, evaluation protocol):
transfer attacks crafted on the PyTorch reference, the black-box Square attack run on the runtime
itself, and the per-sample worst case; the same suite white-box on the reference for comparison."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from dfard_pipeline.attacks import cw_inf, pgd
from dfard_pipeline.attacks.square import square_linf
from dfard_pipeline.evaluation.robustness import RobustnessResult
from dfard_pipeline.worst_case import summarise

Predict = Callable[[torch.Tensor], torch.Tensor]
BATCH = 500


@dataclass(frozen=True)
class SuiteResult(RobustnessResult):
    """The white-box result's fields, plus the mean number of Square queries per image."""

    square_queries_mean: float | None = None


def predict_with(runner) -> Predict:
    """A torch-in, torch-out view of a runner's ``infer`` (Square and accuracy need only that)."""
    return lambda x: torch.from_numpy(runner.infer(np.ascontiguousarray(x.detach().cpu().numpy(), np.float32)))


def _correct(predict: Predict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.cat([predict(x[i:i + BATCH]).argmax(1) == y[i:i + BATCH] for i in range(0, len(x), BATCH)])


def craft_transfer(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *, pgd_steps: int,
                   cw_steps: int, seed: int, suite: str = "quick") -> dict[str, torch.Tensor]:
    """White-box PGD and CW examples on the PyTorch reference (they become transfer attacks);
    ``cw_steps=0`` leaves CW out; the ``standard`` and ``autoattack`` suites add AutoAttack's
    (``runtime/autoattack.py``)."""
    from dfard_pipeline.runtime.autoattack import EXTRA_ATTACKS, autoattack_examples

    extra = {name: autoattack_examples(model, x, y, eps, attacks, seed)
             for name, attacks in EXTRA_ATTACKS[suite].items()}
    generator = torch.Generator().manual_seed(seed)
    out: dict[str, list[torch.Tensor]] = {f"pgd{pgd_steps}": [], **({"cw": []} if cw_steps else {})}
    for i in range(0, len(x), BATCH):
        xb, yb = x[i:i + BATCH], y[i:i + BATCH]
        out[f"pgd{pgd_steps}"].append(pgd(model, xb, yb, eps=eps, steps=pgd_steps, generator=generator))
        if cw_steps:
            out["cw"].append(cw_inf(model, xb, yb, eps=eps, steps=cw_steps, generator=generator))
    return {**{name: torch.cat(parts) for name, parts in out.items()}, **extra}


def square_rounds(n: int, queries: int) -> int:
    """How many query rounds ``run_square`` reports to its progress callback for ``n`` images."""
    return -(-n // BATCH) * (queries - 1)


def run_square(predict: Predict, x: torch.Tensor, y: torch.Tensor, eps: float, *, queries: int, p_init: float,
               seed: int, progress: Callable[[int], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    adv, used = [], []
    for i in range(0, len(x), BATCH):
        xa, q = square_linf(predict, x[i:i + BATCH], y[i:i + BATCH], eps=eps, n_queries=queries, p_init=p_init,
                            generator=generator, on_query=progress)
        adv.append(xa)
        used.append(q)
    return torch.cat(adv), torch.cat(used)


def evaluate_suite(predict: Predict, x: torch.Tensor, y: torch.Tensor, eps: float,
                   adversarial: dict[str, torch.Tensor], square_queries: torch.Tensor | None = None) -> SuiteResult:
    """Clean accuracy, each attack's accuracy (its examples evaluated by ``predict``), worst case."""
    correct = {"clean": _correct(predict, x, y).numpy()}
    correct.update({name: _correct(predict, x_adv, y).numpy() for name, x_adv in adversarial.items()})
    summary = summarise(correct)
    return SuiteResult(clean_accuracy=summary["clean_accuracy"], robust_accuracy=summary["robust_accuracy"],
                       attacks=summary["attacks"], n=len(x), eps=eps,
                       square_queries_mean=float(square_queries.float().mean()) if square_queries is not None
                       else None)
