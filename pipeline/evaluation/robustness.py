"""White-box robustness of a PyTorch model on a labelled set (docs/method.md protocol):
clean accuracy, each attack's accuracy, and the per-sample worst case over the attacks run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from dfard_pipeline.attacks import ATTACKS
from dfard_pipeline.data import LabelledSet
from dfard_pipeline.worst_case import summarise

DEFAULT_ATTACKS = ("fgsm", "pgd20", "cw")


@dataclass(frozen=True)
class RobustnessResult:
    """Accuracies are fractions in [0, 1]; ``robust_accuracy`` is the per-sample worst case."""

    clean_accuracy: float
    robust_accuracy: float
    attacks: dict[str, float] = field(default_factory=dict)
    n: int = 0
    eps: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate_robustness(model: torch.nn.Module, data: LabelledSet, eps: float,
                        attacks: tuple[str, ...] = DEFAULT_ATTACKS, batch_size: int = 500,
                        seed: int = 0, device: torch.device | str = "cpu") -> RobustnessResult:
    """Evaluate ``model`` (put in eval mode here) on ``data`` under each named attack."""
    attack_fns = {name: ATTACKS.get(name) for name in attacks}
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    clean_ok = []
    per_attack = {name: [] for name in attacks}
    for start in range(0, len(data), batch_size):
        x = data.x[start:start + batch_size].to(device)
        y = data.y[start:start + batch_size].to(device)
        with torch.no_grad():
            ok = model(x).argmax(1) == y
        clean_ok.append(ok)
        for name, attack in attack_fns.items():
            x_adv = attack(model, x, y, eps, generator=generator)
            with torch.no_grad():
                ok_adv = model(x_adv).argmax(1) == y
            per_attack[name].append(ok_adv)
    correct = {"clean": torch.cat(clean_ok).cpu().numpy(),
               **{name: torch.cat(parts).cpu().numpy() for name, parts in per_attack.items()}}
    summary = summarise(correct)  # the project's one worst-case rule (worst_case.py)
    return RobustnessResult(clean_accuracy=summary["clean_accuracy"], robust_accuracy=summary["robust_accuracy"],
                            attacks=summary["attacks"], n=len(data), eps=eps)
