"""spark-submit entry point of the market job (what the stream supervisor submits on a restart).

    spark-submit --jars <connector jars> spark/market_job.py   (argv: marketpulse.stream.supervisor)

Settings come from MARKETPULSE_* variables; the queries resume from their checkpoints.
"""

from __future__ import annotations

from marketpulse.config import Settings
from marketpulse.stream.supervisor import run_submitted_market_job

if __name__ == "__main__":
    run_submitted_market_job(Settings())
