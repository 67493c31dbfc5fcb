"""PyTorch eager runner: the reference every artifact is compared against."""

from __future__ import annotations

import numpy as np
import torch

from dfard_pipeline.backends.base import Runner, RunnerInfo


class TorchRunner(Runner):
    """Runs a zoo model (eval mode, no grad) on the CPU or a CUDA device."""

    runtime = "torch"

    def __init__(self, model: torch.nn.Module, contract, device: str = "cpu", artifact: str = "",
                 file_bytes: int | None = None):
        super().__init__(contract)
        self.model = model.eval()
        self.device = torch.device(device)
        self.artifact = artifact
        self.file_bytes = file_bytes

    def _activate(self) -> RunnerInfo:
        self.model.to(self.device)
        return RunnerInfo(runtime="torch", artifact=self.artifact, providers_requested=[str(self.device)],
                          providers_used=[str(self.device)], threads=torch.get_num_threads(),
                          file_bytes=self.file_bytes, versions={"torch": str(torch.__version__)})

    def _run(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            logits = self.model(torch.from_numpy(x).to(self.device))
        return logits.float().cpu().numpy()
