"""onnxruntime (marketpulse[sentiment]): serves the fine-tuned sentiment model without torch."""

from marketpulse.optional import install_hint

try:
    import onnxruntime as onnxruntime  # type: ignore[import-untyped, unused-ignore]
except ImportError as exc:
    raise install_hint("onnxruntime", "sentiment") from exc
