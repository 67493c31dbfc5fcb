"""``verify --remote [USER@]HOST[:PORT]``: bundle here, run the device half there, collect here, over
the system's ``ssh`` and ``scp`` (the user's keys, agent and ``~/.ssh/config``; never a password in
an argument). Every way it can fail is one line: the host is unreachable, Python or the runtime is
missing there, or it is not the device the profile is for.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dfard_pipeline.errors import UsageError
from dfard_pipeline.runtime import bundle as bundles

# user and host start with a letter or digit: a leading "-" would reach ssh as an option
_TARGET = re.compile(r"^(?:(?P<user>[A-Za-z0-9_][A-Za-z0-9._-]*)@)?"
                     r"(?P<host>[A-Za-z0-9][A-Za-z0-9._-]*|\[[0-9A-Fa-f:]+\])(?::(?P<port>\d{1,5}))?$")
CONNECT_TIMEOUT_S = 10
# verify_on_device.py's exit codes
_RUNTIME_MISSING, _WRONG_DEVICE = 3, 4


@dataclass(frozen=True)
class RemoteHost:
    destination: str  # what ssh is given: [user@]host
    port: int | None
    ssh_config: Path | None = None

    @classmethod
    def parse(cls, spec: str, ssh_config: Path | None = None) -> RemoteHost:
        match = _TARGET.match(spec)
        if not match:
            raise UsageError(f"--remote {spec!r}: expected [USER@]HOST[:PORT]")
        destination = (f"{match['user']}@" if match["user"] else "") + match["host"].strip("[]")
        port = int(match["port"]) if match["port"] else None
        if port is not None and not 1 <= port <= 65535:
            raise UsageError(f"--remote {spec!r}: port {port} is not in 1-65535")
        return cls(destination, port, ssh_config)

    def _options(self, port_flag: str) -> list[str]:
        # BatchMode: never prompt (a password prompt would hang a CI job); keys and agent still work
        options = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}"]
        if self.ssh_config is not None:
            options = ["-F", str(self.ssh_config), *options]
        if self.port is not None:
            options += [port_flag, str(self.port)]
        return options

    def ssh(self, command: str) -> list[str]:
        return ["ssh", *self._options("-p"), "--", self.destination, command]

    def scp(self, *paths: str) -> list[str]:
        return ["scp", "-q", "-r", *self._options("-P"), "--", *paths]

    def remote_path(self, path: str) -> str:
        return f"{self.destination}:{path}"


def _run(command: list[str], what: str, host: RemoteHost) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except FileNotFoundError:
        raise UsageError(f"{command[0]} is not installed here; --remote uses the system's OpenSSH client") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"{what} on {host.destination} timed out") from None
    if done.returncode == 255 or (done.returncode != 0 and command[0] == "scp"):
        last = (done.stderr.strip().splitlines() or ["no answer"])[-1]
        raise UsageError(f"cannot reach {host.destination} over ssh ({what}): {last}")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise UsageError(f"{what} failed on {host.destination}: {last}")
    return done.stdout


def _stream(command: list[str], host: RemoteHost, python: str, progress: Callable[[str], None]) -> None:
    """Run the device half, echoing its progress as it comes; its last line explains a failure."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        progress(f"[{host.destination}] {line.rstrip()}")
    code = process.wait()
    if code == 0:
        return
    last = next((line for line in reversed(lines) if line.strip()), f"exit code {code}").removeprefix("error: ")
    if code == 255:
        raise UsageError(f"cannot reach {host.destination} over ssh: {last}")
    if code == 127:
        raise UsageError(f"{python} not found on {host.destination}: pass --remote-python PATH")
    if code == _RUNTIME_MISSING:
        raise UsageError(f"on {host.destination}: {last}")
    if code == _WRONG_DEVICE:
        raise UsageError(f"on {host.destination}: {last}")
    raise UsageError(f"verify_on_device.py failed on {host.destination} (exit {code}): {last}")


def verify_remote(request, host: RemoteHost, bundle_dir: Path, *, python: str = "python3", emulate: bool = False,
                  overwrite: bool = False, progress: Callable[[str], None] = lambda _m: None, bars: bool = False):
    """Bundle into ``bundle_dir`` (kept, with the device's result), run it on ``host``, collect. An
    existing ``bundle_dir`` is replaced only with ``overwrite``, checked before anything is reached."""
    from dfard_pipeline.artifacts.export_manifest import manifest_path

    bundles.check_bundle_folder(bundle_dir, overwrite, (request.artifact, manifest_path(request.artifact),
                                                        request.reference, request.teacher))
    if shutil.which("ssh") is None or shutil.which("scp") is None:
        raise UsageError("--remote needs the OpenSSH client (ssh and scp) on this machine")
    progress(f"checking {host.destination}")
    remote_dir = _run(host.ssh("mktemp -d -t dfard-verify.XXXXXX"), "mktemp", host).strip()
    if not remote_dir.startswith("/"):
        raise UsageError(f"{host.destination}: unexpected answer to mktemp: {remote_dir!r}")
    try:
        bundles.write_bundle(request, bundle_dir, overwrite=overwrite, progress=progress, bars=bars)
        progress(f"copying the bundle to {host.destination}:{remote_dir}")
        _run(host.scp(*[str(p) for p in sorted(bundle_dir.iterdir())], host.remote_path(remote_dir + "/")),
             "copy", host)
        script = f"{shlex.quote(remote_dir)}/verify_on_device.py"
        command = f"cd {shlex.quote(remote_dir)} && {shlex.quote(python)} {script}" + (" --emulate" if emulate else "")
        progress(f"running verify_on_device.py on {host.destination}")
        _stream(host.ssh(command), host, python, progress)
        _run(host.scp(*[host.remote_path(f"{remote_dir}/{name}") for name in bundles.DEVICE_FILES],
                      str(bundle_dir) + "/"), "copy back", host)
    finally:
        subprocess.run(host.ssh(f"rm -rf {shlex.quote(remote_dir)}"), capture_output=True, timeout=60)
    return bundles.collect_bundle(bundle_dir)
