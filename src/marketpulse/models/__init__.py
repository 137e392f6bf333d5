"""Models: the PyTorch price model, its training, and the registry in object storage."""
