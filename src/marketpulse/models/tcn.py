"""The temporal CNN's network: causal dilated 1-D convolutions over (batch, time, features). Needs torch
(marketpulse[ml]); `forecasters.build_tcn` imports it only when a sequence model is built or loaded."""

from __future__ import annotations

from typing import Any

import numpy as np

from marketpulse.optional.torch import nn, torch


class CausalBlock(nn.Module):
    """One dilated convolution (kernel 3) padded on the left only, so no output sees a later bar; plus a skip."""

    def __init__(self, c_in: int, channels: int, dilation: int) -> None:
        super().__init__()
        self.pad = 2 * dilation  # kernel 3: (3 - 1) * dilation bars of left padding keep it causal
        self.conv = nn.Conv1d(c_in, channels, kernel_size=3, dilation=dilation)
        self.skip = nn.Conv1d(c_in, channels, kernel_size=1) if c_in != channels else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(nn.functional.pad(x, (self.pad, 0)))
        return torch.relu(out) + self.skip(x)  # type: ignore[no-any-return]


class TemporalCNN(nn.Module):
    """(batch, time, features) -> (batch, horizons, 2); standardisation is a buffer, so the saved state carries it."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        n_features: int,
        n_horizons: int,
        mean: np.ndarray[Any, Any],
        std: np.ndarray[Any, Any],
        channels: int,
        dilations: tuple[int, ...],
    ) -> None:
        super().__init__()
        self.n_horizons = n_horizons
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
        blocks, c_in = [], n_features
        for dilation in dilations:
            blocks.append(CausalBlock(c_in, channels, dilation))
            c_in = channels
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(channels, 2 * n_horizons)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = ((x - self.mean) / self.std).transpose(1, 2)  # (batch, features, time)
        last = self.blocks(z)[:, :, -1]  # the newest bar's output sees the whole window, nothing later
        return self.head(last).view(len(x), self.n_horizons, 2)  # type: ignore[no-any-return]
