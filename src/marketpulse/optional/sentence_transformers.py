"""sentence-transformers (marketpulse[sentiment]): the frozen MiniLM encoder of the earlier sentiment head."""

from marketpulse.optional import install_hint

try:
    from sentence_transformers import SentenceTransformer as SentenceTransformer
except ImportError as exc:
    raise install_hint("sentence-transformers", "sentiment") from exc
