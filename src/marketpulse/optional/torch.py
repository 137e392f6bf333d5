"""PyTorch (marketpulse[ml]): the temporal CNN, the MLP and the sentiment models' training."""

from marketpulse.optional import install_hint

try:
    import torch as torch
    from torch import nn as nn
except ImportError as exc:
    raise install_hint("torch", "ml") from exc
