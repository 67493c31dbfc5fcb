"""Data-free adversarial robustness distillation (DFARD) as docs/method.md defines it."""
