"""Data-free adversarial robustness distillation (DFARD) as ../shared/DFARD.md defines it."""
