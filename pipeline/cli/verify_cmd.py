"""``dfard-pipeline verify``: not built yet (see the project's issues)."""

from __future__ import annotations

import click


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
               help="Not built yet: this stage is tracked in the project's issues.")
def verify():
    from dfard_pipeline.errors import NotBuiltError

    raise NotBuiltError("'dfard-pipeline verify' is not built yet in this version")
