"""``dfard-pipeline verify``: re-measure an artifact on its target runtime against a device profile."""

from __future__ import annotations

from pathlib import Path

import click

from dfard_pipeline.cli.options import (
    SAFETY_SWITCH,
    config_option,
    old_spelling,
    quiet_option,
    renamed,
    resolve_config,
    trust_option,
)

# options whose default comes from the config (--config, else the group's, else configs/digits.yaml)
OPTION_KEYS = {"data": "verify.data", "n": "verify.n", "seed": "seed"}


@click.command(help="""Re-measure clean and adversarial accuracy, parity and latency of an exported student
on the target runtime, and pass or fail the device profile's gates.

\b
Examples:
  dfard-pipeline verify --artifact runs/digits/export/student.fp32.onnx --device cpu
  dfard-pipeline verify --artifact runs/digits/export/student.int8.onnx --device cpu --n 200
  dfard-pipeline verify --artifact student.fp16.engine --device jetson          # on the Jetson itself
  dfard-pipeline verify --artifact student.fp16.engine --device jetson-orin-nano --emulate  # x86 + TensorRT
  dfard-pipeline verify --artifact runs/digits/export/student.fp32.onnx --data synthetic  # no labelled data
  dfard-pipeline verify --artifact student.int8.onnx --device jetson-orin-nano --bundle b/   # engine built there
  dfard-pipeline verify --collect b/                                         # after verify_on_device.py ran
  dfard-pipeline verify --artifact student.fp32.onnx --device jetson-orin-nano --remote nano@10.0.0.7

The device needs neither PyTorch nor dfard-pipeline for --bundle and --remote: only Python, numpy
and the runtime. Robust accuracy on the runtime is the per-sample worst case over PGD and CW crafted on the PyTorch
reference (transfer) and the black-box Square attack run on the runtime itself. Writes verify.json
(stable, documented in docs/verify.md) and verify.md. Exit 0: every gate passed; 1: a gate failed;
2: usage error.""")
@click.option("--artifact", type=click.Path(dir_okay=False),
              help="The artifact: .onnx, .engine or a .pt checkpoint.  [required, except with --collect]")
@old_spelling("--model", "model_alias", type=click.Path(dir_okay=False))
@click.option("--checkpoint", type=click.Path(dir_okay=False),
              help="The project checkpoint the artifact was exported from: the PyTorch reference for parity and "
                   "transfer attacks.  [default: the manifest's source checkpoint]")
@old_spelling("--reference", "reference_alias", type=click.Path(dir_okay=False))
@click.option("--device", default="cpu", show_default=True,
              help="Device profile: cpu, cuda, jetson (auto-detects the module), jetson-orin-nano, "
                   "jetson-orin-nx, jetson-agx-orin, or a profile YAML path.")
@click.option("--data", help="digits, cifar10:PATH, cifar100:PATH, npz:PATH or synthetic.  [default: the config's "
                             "verify.data: digits]")
@click.option("--eps", type=float, help="L-inf radius.  [default: the student's recorded eps]")
@click.option("--suite", type=click.Choice(["quick", "standard", "autoattack"]),
              help="Attacks: quick (PGD, CW, Square), standard (+ AutoAttack's APGD-CE), autoattack (+ AutoAttack "
                   "standard: APGD-CE, APGD-T, FAB-T, Square 5000).  [default: the profile's, standard]")
@click.option("--n", type=int, help="Use the first N samples (comparable across runs).  [default: the config's "
                                   "verify.n: all]")
@click.option("--teacher", type=click.Path(dir_okay=False), help="Teacher that labels --data synthetic.")
@trust_option
@click.option("--other-reference", is_flag=True,
              help="Compare with a --checkpoint other than the one the artifact was exported from (refused "
                   "otherwise); verify.json and the report say so.")
@click.option("--emulate", is_flag=True, help="Run another device's profile here; latency is marked as host.")
@click.option("--out", type=click.Path(file_okay=False),
              help="Folder for verify.json and verify.md.  [default: ARTIFACT_DIR/verify-ARTIFACT-DEVICE]")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write verify.json here.")
@click.option("--overwrite", **SAFETY_SWITCH, help="Replace verify.json/verify.md (and --json) if they exist.")
@click.option("--bundle", "bundle_dir", type=click.Path(file_okay=False),
              help="Write a folder for the device (artifact, arrays, verify_on_device.py) instead of running here.")
@click.option("--collect", "collect_dir", type=click.Path(file_okay=False),
              help="Turn a bundle the device has run into verify.json and verify.md.")
@click.option("--remote", help="[USER@]HOST[:PORT]: bundle, run it there over ssh/scp, collect.")
@click.option("--remote-python", default="python3", show_default=True, help="Python on the remote host.")
@click.option("--ssh-config", type=click.Path(dir_okay=False, exists=True),
              help="An ssh config file to use instead of ~/.ssh/config.")
@click.option("--threads", type=int,
              help="Runtime threads.  [default: the CPUs this process may use (affinity, cgroup quota)]")
@click.option("--seed", type=int, help="Seed of attacks and samples.  [default: the config's seed: 0]")
@config_option
@quiet_option
@click.pass_context
def verify(ctx, artifact, model_alias, checkpoint, reference_alias, device, data, eps, suite, n, teacher,
           trust_checkpoint, other_reference, emulate, out, json_path, overwrite, bundle_dir, collect_dir, remote,
           remote_python, ssh_config, threads, seed, config_path, quiet):
    import sys

    from dfard_pipeline.artifacts.export_manifest import manifest_path
    from dfard_pipeline.errors import UsageError
    from dfard_pipeline.outputs import verify_out
    from dfard_pipeline.runtime.verify import VerifyRequest, verify_artifact
    from dfard_pipeline.runtime.writing import write_verify_outputs

    artifact = renamed(artifact, model_alias, "--artifact", "--model")
    reference = renamed(checkpoint, reference_alias, "--checkpoint", "--reference")
    config, _ = resolve_config(ctx, config_path, OPTION_KEYS)
    data, n, seed = config.verify.data, config.verify.n, config.seed
    if collect_dir and (artifact or bundle_dir or remote):
        raise UsageError("--collect reads a bundle the device has run: pass it alone (with --out/--json)")
    if not collect_dir and not artifact:
        raise UsageError("pass --artifact ARTIFACT (or --collect BUNDLE)")
    if bundle_dir and emulate and not remote:
        raise UsageError("--emulate is for the device half: run `python3 verify_on_device.py --emulate` there")
    log = (lambda msg: None) if quiet else (lambda msg: click.echo(f"  {msg}", err=True))
    if collect_dir:
        from dfard_pipeline.runtime.bundle import collect_bundle

        out_dir = Path(out) if out else Path(collect_dir)
        _check_outputs(out_dir, json_path, overwrite, ())
        result = collect_bundle(Path(collect_dir))
    else:
        request = VerifyRequest(artifact=Path(artifact), device=device,
                                reference=Path(reference) if reference else None, data=data, eps=eps, n=n,
                                emulate=emulate and not (bundle_dir or remote), trust_teacher=trust_checkpoint,
                                teacher=Path(teacher) if teacher else None, seed=seed, threads=threads,
                                suite=suite, other_reference=other_reference)
        out_dir = Path(out) if out else verify_out(Path(artifact), device, data)
        inputs = (Path(artifact), manifest_path(artifact), request.reference, request.teacher)
        if bundle_dir and not remote:
            from dfard_pipeline.runtime.bundle import write_bundle

            folder = write_bundle(request, Path(bundle_dir), overwrite=overwrite, progress=log, bars=not quiet)
            click.echo(f"bundle for {device} -> {folder}\n  on the device: python3 {folder.name}/verify_on_device.py"
                       f"\n  then here:     dfard-pipeline verify --collect {folder}")
            return
        _check_outputs(out_dir, json_path, overwrite, inputs)
        if remote:
            from dfard_pipeline.runtime.remote import RemoteHost, verify_remote

            host = RemoteHost.parse(remote, Path(ssh_config) if ssh_config else None)
            result = verify_remote(request, host, Path(bundle_dir) if bundle_dir else out_dir / "bundle",
                                   python=remote_python, emulate=emulate, overwrite=overwrite, progress=log,
                                   bars=not quiet)
        else:
            result = verify_artifact(request, progress=log, bars=not quiet)
    json_file, md_file = write_verify_outputs(result, out_dir, Path(json_path) if json_path else None)
    click.echo(f"verify {result.headline()} -> {md_file}")
    for line in result.problems():
        click.echo(f"  {line}")
    if not result.passed:
        sys.exit(1)


def _check_outputs(out_dir: Path, json_path: str | None, overwrite: bool, inputs: tuple) -> None:
    """Every output is checked before minutes of attacks, and none may replace an input."""
    from dfard_pipeline.outputs import check_output

    for path in (out_dir / "verify.json", out_dir / "verify.md", *([Path(json_path)] if json_path else [])):
        check_output(path, overwrite, inputs)
