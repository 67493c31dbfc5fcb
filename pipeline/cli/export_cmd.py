"""``dfard-pipeline export``: a distilled student (or any project checkpoint) to ONNX or TensorRT."""

from __future__ import annotations

from pathlib import Path

import click

from dfard_pipeline.cli.options import (
    config_option,
    old_spelling,
    overwrite_option,
    quiet_option,
    renamed,
    resolve_config,
)
from dfard_pipeline.config.schema import INT8_SCHEMES

OPTION_KEYS = {"opset": "export.opset", "calibration_samples": "export.calibration_samples", "seed": "seed"}


@click.command(help="""Export a checkpoint to ONNX (fp32, fp16, data-free int8) or a TensorRT engine.

\b
Examples:
  dfard-pipeline export --checkpoint runs/digits/distill/student.pt --format onnx
  dfard-pipeline export --checkpoint runs/digits/distill/student.pt --precision int8
  dfard-pipeline export --checkpoint runs/digits/distill/student.pt --precision int8 --calibration npz:calib.npz
  dfard-pipeline export --checkpoint runs/digits/distill/student.pt --format tensorrt --precision fp16  # needs a GPU

Every artifact is checked (onnx.checker, shape inference, opset, dynamic batch) and compared with the
PyTorch student before it is written; a sidecar manifest (ARTIFACT.json) records hashes, versions,
the input contract, calibration and parity. INT8 is calibrated on samples from the distill run's
generator (RUN/generator.pt beside the student): no real data. Default output:
CHECKPOINT_DIR/student.PRECISION.onnx (or .engine).""")
@click.option("--checkpoint", "checkpoint", type=click.Path(dir_okay=False),
              help="A dfard-pipeline checkpoint: a distilled student.pt or a trained teacher.  [required]")
@old_spelling("--student", "student_alias", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["onnx", "tensorrt"]), default="onnx", show_default=True)
@click.option("--precision", type=click.Choice(["fp32", "fp16", "bf16", "int8"]), default="fp32",
              show_default=True, help="onnx: fp32, fp16, int8; tensorrt: fp32, fp16, bf16, int8.")
@click.option("--calibration", help="INT8 samples: RUN/generator.pt (default: the one beside the student) "
                                    "or npz:PATH holding images 'x'.")
@click.option("--int8-scheme", type=click.Choice(INT8_SCHEMES), default="symmetric", show_default=True,
              help="symmetric: int8 activations, the form TensorRT takes; cpu: uint8 activations, which ONNX "
                   "Runtime's CPU kernels run fastest (ONNX only).")
@click.option("--int8-quantize-all", is_flag=True,
              help="Quantise every layer (by default the first conv and the last linear layer stay float).")
@click.option("--calibration-samples", type=int, help="How many calibration samples.  [default: 512]")
@click.option("--opset", type=int, help="ONNX opset.  [default: 18]")
@click.option("--batch", type=int, help="Export a fixed batch size instead of a dynamic one.")
@click.option("--dynamic-batch", is_flag=True, help="Dynamic batch axis (the default unless --batch).")
@click.option("--workspace-mib", type=int, default=1024, show_default=True, help="TensorRT workspace limit.")
@click.option("--timing-cache", type=click.Path(dir_okay=False),
              help="TensorRT timing cache, read and updated.  [default: beside the engine]")
@click.option("--out", type=click.Path(dir_okay=False), help="Artifact path.")
@click.option("--seed", type=int, help="Seed of calibration and parity samples.  [default: 0]")
@config_option
@overwrite_option
@quiet_option
@click.pass_context
def export(ctx, checkpoint, student_alias, fmt, precision, calibration, int8_scheme, int8_quantize_all, batch,
           dynamic_batch, workspace_mib, timing_cache, out, config_path, overwrite, quiet, **_):
    from dfard_pipeline.errors import UsageError
    from dfard_pipeline.export.api import export_model
    from dfard_pipeline.export.spec import ExportRequest

    checkpoint = renamed(checkpoint, student_alias, "--checkpoint", "--student")
    if checkpoint is None:
        raise UsageError("pass --checkpoint STUDENT.pt (a distilled student, or a teacher trained here)")
    config, _ = resolve_config(ctx, config_path, OPTION_KEYS)
    request = ExportRequest.from_config(
        config, checkpoint, format=fmt, precision=precision, calibration=calibration, int8_scheme=int8_scheme,
        int8_keep_first_last=not int8_quantize_all, batch=batch, dynamic_batch=dynamic_batch or None,
        out=Path(out) if out else None, overwrite=overwrite, workspace_mib=workspace_mib,
        timing_cache=Path(timing_cache) if timing_cache else None)
    result = export_model(request, log=(lambda msg: None) if quiet else (lambda msg: click.echo(f"  {msg}", err=True)))
    click.echo("\n".join(result.summary_lines()))

