"""``python -m dfard_pipeline`` (used by ``torchrun -m dfard_pipeline distill ...``)."""

from dfard_pipeline.cli import main

if __name__ == "__main__":
    main()
