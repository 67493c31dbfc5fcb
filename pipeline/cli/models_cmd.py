"""``dfard-pipeline models``: list the model zoo with sizes and input contracts."""

from __future__ import annotations

import click


@click.command(help="""List the model zoo (optionally filtered by a glob pattern).

\b
Example:
  dfard-pipeline models 'digits*'""")
@click.argument("pattern", default="*")
def models(pattern: str) -> None:
    from dfard_pipeline.models import count_parameters, create_model, list_models

    for name in list_models(pattern):
        model = create_model(name)
        c = model.contract
        click.echo(f"{name:22s} {count_parameters(model):>12,d} params  "
                   f"in {c.shape} [0,1] -> {c.num_classes} classes")
