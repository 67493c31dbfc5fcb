"""verify --remote against a real sshd on 127.0.0.1 (slow): the whole round trip, and each failure
as one line: unreachable host, no runtime there, not the profile's device."""

import json

import pytest
import sshd
from cli_run import cli
from device_env import python_wrapper

pytestmark = pytest.mark.slow

FAST = ("name: fast\nruntime: onnxruntime\nbatch_sizes: [1, 16]\nwarmup: 2\niterations: 20\n"
        "attacks: {pgd_steps: 10, cw_steps: 0, square_queries: 50}\ngates: {max_p99_ms_batch1: 1000.0}\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    why = sshd.available()
    if why:
        pytest.skip(why)
    with sshd.sshd(tmp_path_factory.mktemp("sshd")) as (target, config):
        yield target, config


def test_remote_round_trip_on_a_python_without_torch(server, exported, tmp_path, capsys):
    target, config = server
    (tmp_path / "fast.yaml").write_text(FAST)
    python = python_wrapper(tmp_path / "remote-env")
    code, out = cli(["verify", "--artifact", str(exported), "--device", str(tmp_path / "fast.yaml"), "--n", "40",
                     "--out", str(tmp_path / "v"), "--remote", target, "--ssh-config", str(config),
                     "--remote-python", str(python)], capsys)
    assert code == 0 and "verify PASSED" in out, out
    assert "[root@127.0.0.1]" in out or "@127.0.0.1]" in out  # the device's progress was streamed
    result = json.loads((tmp_path / "v" / "verify.json").read_text())
    assert result["device"]["torch_imported"] is False and result["metrics"]["n"] == 40
    assert (tmp_path / "v" / "bundle" / "device_result.json").is_file()


def test_remote_failures_are_one_line(server, exported, tmp_path, capsys):
    target, config = server
    (tmp_path / "fast.yaml").write_text(FAST)
    (tmp_path / "nano.yaml").write_text(FAST.replace("name: fast", "name: nano-onnx\njetson_model: Orin Nano"))
    base = ["verify", "--artifact", str(exported), "--n", "20", "--ssh-config", str(config), "--quiet"]
    closed = f"{target.split(':')[0]}:{sshd.free_port()}"
    cases = [
        ([*base, "--device", str(tmp_path / "fast.yaml"), "--remote", closed, "--out", str(tmp_path / "a")],
         "cannot reach"),
        ([*base, "--device", str(tmp_path / "fast.yaml"), "--remote", target, "--out", str(tmp_path / "b"),
          "--remote-python", str(python_wrapper(tmp_path / "no-ort", with_onnxruntime=False))],
         "onnxruntime is not installed"),
        ([*base, "--device", str(tmp_path / "nano.yaml"), "--remote", target, "--out", str(tmp_path / "c"),
          "--remote-python", str(python_wrapper(tmp_path / "env"))], "not a Jetson"),
        ([*base, "--device", str(tmp_path / "fast.yaml"), "--remote", target, "--out", str(tmp_path / "d"),
          "--remote-python", "/no/such/python"], "not found on"),
    ]
    for args, message in cases:
        code, out = cli(args, capsys)
        errors = [line for line in out.splitlines() if line.startswith("error: ")]
        assert code == 2 and len(errors) == 1 and message in errors[0] and "Traceback" not in out, (args, out)
