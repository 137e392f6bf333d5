"""LightGBM (marketpulse[ml]): the gradient-boosted trees price model."""

from marketpulse.optional import install_hint

try:
    import lightgbm as lightgbm
except ImportError as exc:
    raise install_hint("lightgbm", "ml") from exc
