"""Methods: which temperature rule and which generator-balance rule a run uses.

``dfard`` = ITA + AGB (the rules named by ``ita_rule``/``agb_rule``); ``combo`` = the naive
combination of a DFAD/DeepInversion generator with an RSLAD student (fixed tau, fixed weights);
``combo+ita`` and ``combo+agb`` are the half-way points of the ablation.
"""

from __future__ import annotations

from dataclasses import dataclass

from dfard_pipeline.config.schema import DistillConfig
from dfard_pipeline.registry import Registry


@dataclass(frozen=True)
class Method:
    uses_ita: bool
    uses_agb: bool

    def temperature_rule(self, cfg: DistillConfig) -> str:
        return cfg.ita_rule if self.uses_ita else "fixed"

    def balance_rule(self, cfg: DistillConfig) -> str:
        return cfg.agb_rule if self.uses_agb else "fixed"

    def class_sampling(self, cfg: DistillConfig) -> str:
        """AGB also balances the generator's classes (``distill.class_sampling``); without it, uniform."""
        return cfg.class_sampling if self.uses_agb else "uniform"

    def class_weighting(self, cfg: DistillConfig) -> str:
        """ITA also weights the student loss by class (``distill.class_weighting``); without it, uniform."""
        return cfg.class_weighting if self.uses_ita else "uniform"


METHODS: Registry[Method] = Registry("method")
METHODS.register("dfard")(Method(uses_ita=True, uses_agb=True))
METHODS.register("combo")(Method(uses_ita=False, uses_agb=False))
METHODS.register("combo+ita")(Method(uses_ita=True, uses_agb=False))
METHODS.register("combo+agb")(Method(uses_ita=False, uses_agb=True))
