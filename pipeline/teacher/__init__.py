"""Teachers: adversarial training (``train``) and loading user checkpoints (``dfard_pipeline.checkpoint``)."""
