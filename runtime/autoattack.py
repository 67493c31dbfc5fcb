"""AutoAttack (Croce & Hein, ICML 2020), the field's standard robustness evaluation, from the authors'
implementation on PyPI (``pyautoattack``), run white-box on the PyTorch reference; its examples are
then transferred to the runtime like the other white-box attacks.

Suites (``verify --suite``): ``quick`` is the profile's PGD and CW plus Square; ``standard`` adds
AutoAttack's APGD-CE with 25 iterations (its adaptive step size makes it stronger than PGD of the
same length; AutoAttack's own 100 iterations cost 5x as much, which would take the digits `run`
past its time budget); ``autoattack`` adds AutoAttack "standard" (APGD-CE, APGD-T, FAB-T, Square
with 5000 queries). Robust accuracy stays the per-sample worst case over all of them.
"""

from __future__ import annotations

import logging
import warnings

import torch

from dfard_pipeline.errors import UsageError

SUITES = ("quick", "standard", "autoattack")
STANDARD_APGD_ITERATIONS = 25
# suite -> {transfer set name: pyautoattack attacks (None: its "standard" version)}
EXTRA_ATTACKS = {"quick": {}, "standard": {"apgd_ce": ["apgd-ce"]}, "autoattack": {"autoattack": None}}


def autoattack_examples(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
                        attacks: list[str] | None, seed: int, batch_size: int = 500) -> torch.Tensor:
    """Adversarial examples (N, C, H, W) in [0, 1] within ``eps`` (L-inf) of ``x``; ``attacks`` None
    runs AutoAttack's "standard" version, a list runs those attacks ("custom")."""
    try:
        from pyautoattack import AutoAttack
    except ImportError:
        raise UsageError("the standard and autoattack suites need pyautoattack, a dependency of this "
                         "package: pip install pyautoattack (or verify --suite quick)") from None

    version = "standard" if attacks is None else "custom"
    logger = logging.getLogger("auto-attack")
    level = logger.level
    logger.setLevel(logging.ERROR)
    # pyautoattack seeds torch's global generator; fork it so the caller's random stream is untouched
    with torch.random.fork_rng(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if attacks == ["apgd-ce"]:  # the standard suite's short APGD-CE: the library's own attack class
                from pyautoattack.autopgd_base import APGDAttack

                apgd = APGDAttack(model, n_iter=STANDARD_APGD_ITERATIONS, norm="Linf", eps=eps, seed=seed,
                                  loss="ce", n_restarts=1, device=x.device)
                x_adv = torch.cat([apgd.perturb(x[i:i + batch_size], y[i:i + batch_size])
                                   for i in range(0, len(x), batch_size)])
            else:
                adversary = AutoAttack(model, norm="Linf", eps=eps, version=version, attacks=attacks, seed=seed)
                x_adv, _ = adversary.run_standard_evaluation(x, y, batch_size=batch_size)
        finally:
            logger.setLevel(level)
    return x_adv.detach().clamp(0, 1)
