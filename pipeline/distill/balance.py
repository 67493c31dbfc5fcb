"""Generator loss balance: fixed weights (baseline) and AGB, Adaptive Generator Balance.

AGB here is our reconstruction of the paper's description (balance the generator's objectives
adaptively so synthetic data keeps more of the teacher's information); see docs/method.md.
A rule is an object with ``update(terms, probe)`` (once per step, detached magnitudes),
``weights() -> {term: weight}``, ``state_dict()``/``load_state_dict()`` for resume, and two class
attributes the generator step reads: ``measure`` and ``project_hardness``.
"""

from __future__ import annotations

from dfard_pipeline.config.schema import DistillConfig
from dfard_pipeline.distill.generator_loss import HARDNESS_TERMS, INFORMATION_TERMS
from dfard_pipeline.distill.probe import Probe
from dfard_pipeline.registry import Registry

BALANCE_RULES: Registry = Registry("generator balance rule")


def clipped_agreement(probe: Probe, cfg_min: float, cfg_max: float) -> float:
    """beta: the student's robust agreement on the probe (``Probe.agreement``), clipped to [cfg_min, cfg_max]."""
    return min(cfg_max, max(cfg_min, probe.agreement))


@BALANCE_RULES.register("fixed")
class FixedBalance:
    """The baseline: DFAD/DeepInversion-style hand-set weights."""

    measure = "value"  # what `update` receives: term values (or "grad": gradient norms)
    project_hardness = False  # True: the hardness gradient loses its component against information

    def __init__(self, cfg: DistillConfig, terms: tuple[str, ...]):
        fixed = cfg.fixed_weights
        self._weights = {term: float(getattr(fixed, term)) for term in terms}

    def update(self, magnitudes: dict[str, float], probe: Probe | None) -> None:
        pass

    def weights(self) -> dict[str, float]:
        return dict(self._weights)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


@BALANCE_RULES.register("hardness_information")
class HardnessInformationBalance:
    """Normalise each term by an EMA of its magnitude, then weight hardness (``adv``) by beta and
    information (``bn``, ``oh``, ``ent``, split evenly) by 1 - beta, where beta is the student's
    robust agreement with the teacher on the last probe, clipped to [beta_min, beta_max]: a
    student that already agrees needs harder samples, one that does not needs information."""

    normalise_only = False
    measure = "value"
    project_hardness = False

    def __init__(self, cfg: DistillConfig, terms: tuple[str, ...]):
        self.terms = terms
        self.momentum = cfg.agb_momentum
        self.beta_min, self.beta_max = cfg.agb_beta_min, cfg.agb_beta_max
        self.magnitude: dict[str, float] = {}
        self.beta = 0.5

    def update(self, magnitudes: dict[str, float], probe: Probe | None) -> None:
        for term, value in magnitudes.items():
            value = abs(value) + 1e-8
            old = self.magnitude.get(term)
            self.magnitude[term] = value if old is None else self.momentum * old + (1 - self.momentum) * value
        if probe is not None:
            self.beta = clipped_agreement(probe, self.beta_min, self.beta_max)

    def weights(self) -> dict[str, float]:
        info = [t for t in self.terms if t in INFORMATION_TERMS]
        hard = [t for t in self.terms if t in HARDNESS_TERMS]
        share = {t: (0.5 if self.normalise_only else self.beta) / len(hard) for t in hard}
        share.update({t: (0.5 if self.normalise_only else 1 - self.beta) / len(info) for t in info})
        return {t: share[t] / self.magnitude.get(t, 1.0) for t in self.terms}

    def state_dict(self) -> dict:
        return {"magnitude": dict(self.magnitude), "beta": self.beta}

    def load_state_dict(self, state: dict) -> None:
        self.magnitude = dict(state["magnitude"])
        self.beta = float(state["beta"])


@BALANCE_RULES.register("normalise_only")
class NormaliseOnlyBalance(HardnessInformationBalance):
    """Ablation: AGB's magnitude normalisation with a constant 50/50 hardness/information split."""

    normalise_only = True


@BALANCE_RULES.register("gradient_balance")
class GradientBalance(HardnessInformationBalance):
    """AGB measured where the terms compete: each term's magnitude is the norm of its gradient
    with respect to the synthetic images (EMA), so after normalisation every term pushes the
    images equally hard before the hardness/information split by beta. Normalising by the loss
    value instead under-weights terms with a large but slowly falling value (``bn``) and
    over-weights terms near zero (``ent``), which we measured to hurt (benchmarks/results)."""

    measure = "grad"


@BALANCE_RULES.register("scaled_fixed")
class ScaledFixedBalance(FixedBalance):
    """AGB as a gentle correction of the baseline: keep the hand-set relative weights and only
    move the hardness/information split, adv x 2*beta and information terms x 2*(1 - beta)
    (beta = clipped robust agreement; at beta = 0.5 this is exactly the fixed baseline)."""

    def __init__(self, cfg: DistillConfig, terms: tuple[str, ...]):
        super().__init__(cfg, terms)
        self.beta_min, self.beta_max = cfg.agb_beta_min, cfg.agb_beta_max
        self.beta = 0.5

    def update(self, magnitudes: dict[str, float], probe: Probe | None) -> None:
        if probe is not None:
            self.beta = clipped_agreement(probe, self.beta_min, self.beta_max)

    def weights(self) -> dict[str, float]:
        scale = {t: 2 * (self.beta if t in HARDNESS_TERMS else 1 - self.beta) for t in self._weights}
        return {t: w * scale[t] for t, w in self._weights.items()}

    def state_dict(self) -> dict:
        return {"beta": self.beta}

    def load_state_dict(self, state: dict) -> None:
        self.beta = float(state["beta"])


@BALANCE_RULES.register("scaled_fixed_inverse")
class InverseScaledFixedBalance(ScaledFixedBalance):
    """The opposite reading of the same signal: a student that disagrees gets *harder* samples
    (mine where it fails), one that agrees gets more information. beta = 1 - clipped agreement."""

    def update(self, magnitudes: dict[str, float], probe: Probe | None) -> None:
        if probe is not None:
            self.beta = 1.0 - clipped_agreement(probe, self.beta_min, self.beta_max)


@BALANCE_RULES.register("scaled_fixed_projected")
class ProjectedScaledFixedBalance(ScaledFixedBalance):
    """``scaled_fixed`` weights, and where the hardness gradient (with respect to each synthetic
    image) points against the information gradient, its conflicting component is removed
    (PCGrad, Yu et al. 2020, applied per image): hard samples are mined only in directions that do
    not cost the teacher's data information."""

    project_hardness = True
