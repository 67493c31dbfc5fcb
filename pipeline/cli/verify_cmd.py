"""``dfard-pipeline verify``: re-measure an artifact on its target runtime against a device profile."""

from __future__ import annotations

from pathlib import Path

import click

from dfard_pipeline.cli.options import quiet_option


@click.command(help="""Re-measure clean and adversarial accuracy, parity and latency of an exported student
on the target runtime, and pass or fail the device profile's gates.

\b
Examples:
  dfard-pipeline verify --model runs/digits/student.fp32.onnx --device cpu
  dfard-pipeline verify --model runs/digits/student.int8.onnx --device cpu --n 200
  dfard-pipeline verify --model student.fp16.engine --device jetson          # on the Jetson itself
  dfard-pipeline verify --model student.fp32.onnx --device jetson-orin-nano --emulate
  dfard-pipeline verify --model student.fp32.onnx --data synthetic           # no labelled data at all

Robust accuracy on the runtime is the per-sample worst case over PGD and CW crafted on the PyTorch
reference (transfer) and the black-box Square attack run on the runtime itself. Writes verify.json
(stable, documented in the README) and verify.md. Exit 0: every gate passed; 1: a gate failed;
2: usage error.""")
@click.option("--model", "artifact", required=True, type=click.Path(dir_okay=False),
              help="The artifact: .onnx, .engine or a .pt checkpoint.")
@click.option("--reference", type=click.Path(dir_okay=False),
              help="PyTorch reference checkpoint.  [default: the manifest's source checkpoint]")
@click.option("--device", default="cpu", show_default=True,
              help="Device profile: cpu, cuda, jetson (auto-detects the module), jetson-orin-nano, "
                   "jetson-orin-nx, jetson-agx-orin, or a profile YAML path.")
@click.option("--data", default="digits", show_default=True,
              help="digits, cifar10:PATH, cifar100:PATH, npz:PATH or synthetic.")
@click.option("--eps", type=float, help="L-inf radius.  [default: the student's recorded eps]")
@click.option("--n", type=int, help="Use the first N samples (comparable across runs).  [default: all]")
@click.option("--teacher", type=click.Path(dir_okay=False), help="Teacher that labels --data synthetic.")
@click.option("--trust-checkpoint", is_flag=True,
              help="Load a --teacher that holds pickled Python objects (runs code from the file).")
@click.option("--emulate", is_flag=True, help="Run another device's profile here; latency is marked as host.")
@click.option("--out", type=click.Path(file_okay=False),
              help="Folder for verify.json and verify.md.  [default: ARTIFACT_DIR/verify-ARTIFACT-DEVICE]")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write verify.json here.")
@click.option("--overwrite", is_flag=True, help="Replace verify.json/verify.md (and --json) if they exist.")
@click.option("--threads", type=int,
              help="Runtime threads.  [default: the CPUs this process may use (affinity, cgroup quota)]")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of attacks and samples.")
@quiet_option
def verify(artifact, reference, device, data, eps, n, teacher, trust_checkpoint, emulate, out, json_path, overwrite,
           threads, seed, quiet):
    import sys

    from dfard_pipeline.cli.options import check_output
    from dfard_pipeline.export.spec import manifest_path
    from dfard_pipeline.runtime.verify import VerifyRequest, verify_artifact
    from dfard_pipeline.runtime.writing import write_verify_outputs

    request = VerifyRequest(artifact=Path(artifact), device=device, reference=Path(reference) if reference else None,
                            data=data, eps=eps, n=n, emulate=emulate, teacher=Path(teacher) if teacher else None,
                            trust_teacher=trust_checkpoint,
                            seed=seed, threads=threads)
    out_dir = Path(out) if out else Path(artifact).with_name(f"verify-{Path(artifact).name}-{device.replace('/', '_')}")
    # Every output is checked before minutes of attacks, and none may replace an input.
    inputs = (Path(artifact), manifest_path(artifact), request.reference, request.teacher)
    for path in (out_dir / "verify.json", out_dir / "verify.md", *([Path(json_path)] if json_path else [])):
        check_output(path, overwrite, inputs, create_parent=path.parent == out_dir)
    log = (lambda msg: None) if quiet else (lambda msg: click.echo(f"  {msg}", err=True))
    result = verify_artifact(request, progress=log, bars=not quiet)
    json_file, md_file = write_verify_outputs(result, out_dir, Path(json_path) if json_path else None)
    data_out = result.to_dict()
    m = data_out["metrics"]
    click.echo(f"verify {'PASSED' if result.passed else 'FAILED'} on {data_out['device']['profile']}: clean "
               f"{m['clean_accuracy']:.2%}, robust {m['robust_accuracy']:.2%} (reference "
               f"{data_out['reference']['robust_accuracy']:.2%}), p99 b1 "
               f"{data_out['latency'].get('1', {}).get('p99_ms', float('nan')):.3f} ms "
               f"in {data_out['wall_time_s']:.0f} s -> {md_file}")
    for gate in data_out["gates"]:
        if gate["passed"] is False:
            click.echo(f"  FAIL {gate['name']}: {gate['value']:.4g} vs {gate['threshold']:.4g}")
    for warning in data_out["warnings"]:
        click.echo(f"  warning: {warning}")
    if not result.passed:
        sys.exit(1)
