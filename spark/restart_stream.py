"""spark-submit application of the stream_supervisor DAG (SparkSubmitOperator): restart one stream job.

    spark-submit spark/restart_stream.py market-job --verdict dead --reason "its process is gone"

Under the job's launch lock it judges the job again and leaves it alone when someone else (`platform up`, an
earlier restart) launched it since the verdict; otherwise it stops what is left of the job, submits its spark/
entry point again detached (it resumes from its checkpoints), waits until it runs, records the restart in
Postgres, and exits non-zero if it did not come back.
"""

from __future__ import annotations

import argparse

from marketpulse.config import Settings
from marketpulse.stream.supervisor import ANY_PID, restart_job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", help="Stream job to restart (market-job or sentiment-job).")
    parser.add_argument("--verdict", default="manual", help="Why: dead, stuck or manual.")
    parser.add_argument("--reason", default="requested", help="What the supervisor saw.")
    parser.add_argument(
        "--pid", default="any", help="The pid the verdict was about ('none': no process; 'any': restart whatever runs)."
    )
    args = parser.parse_args()
    seen = ANY_PID if args.pid == "any" else None if args.pid == "none" else int(args.pid)
    outcome = restart_job(Settings(), args.job, verdict=args.verdict, reason=args.reason, seen_pid=seen, report=print)
    if "skipped" in outcome:
        print(f"left {outcome['job']} alone: {outcome['skipped']}")
    else:
        print(f"restarted {outcome['job']}: pid {outcome['new_pid']}, running after {outcome['ready_s']:.0f}s")


if __name__ == "__main__":
    main()
