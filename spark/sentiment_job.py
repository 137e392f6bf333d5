"""spark-submit entry point of the sentiment job (what the stream supervisor submits on a restart).

    spark-submit --jars <connector jars> spark/sentiment_job.py   (argv: marketpulse.stream.supervisor)

Settings come from MARKETPULSE_* variables; the query resumes from its checkpoint.
"""

from __future__ import annotations

from marketpulse.config import Settings
from marketpulse.stream.supervisor import run_submitted_sentiment_job

if __name__ == "__main__":
    run_submitted_sentiment_job(Settings())
