"""Find secrets in logs: what the test session's stack and processes wrote must hold no API key, webhook secret,
database/object-store/Airflow password or Airflow signing key.

The suite remembers how long every log was when it started (`remember_log_sizes`, from tests/conftest.py) and
test_zz_no_secrets_in_logs.py, which runs last, scans only what was written since. Run it by hand over any
folder, e.g. the platform's: `.venv/bin/python tests/integration/secret_scan.py .stack/dev test-artifacts`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, SecretStr

from marketpulse.config import Settings

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
#: Folders of a stack instance that hold data, not logs (Kafka segments are named *.log too).
DATA_DIRS = {"data", "checkpoints", "spool", "commitlog", "hints", "saved_caches", "keys"}
LOG_SUFFIXES = (".log", ".out", ".err", ".txt")
#: A whole API key or webhook secret; logs may show a key's id (`mpk_<id>_<redacted>`), never its secret.
KEY_SHAPES = {
    "API key": re.compile(r"mpk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}"),
    "webhook secret": re.compile(r"whsec_[A-Za-z0-9_-]{32}"),
}
#: Below this length a secret is a common word ("marketpulse" locally): only its leak shapes are looked for.
DISTINCT_LENGTH = 14

_sizes: dict[Path, int] = {}


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def log_files(roots: Iterable[Path]) -> Iterator[Path]:
    """Every log file under `roots` (stack instance folders, test-artifacts), data folders skipped."""
    for root in roots:
        if root.is_file():
            yield root
            continue
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            relative = path.relative_to(root).parts
            if DATA_DIRS.intersection(relative[:-1]) or not path.is_file():
                continue
            if path.suffix in LOG_SUFFIXES or "logs" in relative[:-1]:
                yield path


def log_roots(settings: Settings) -> list[Path]:
    """The session's logs: its stack instance (services, Airflow, apps) and the test processes' artifacts."""
    return [settings.stack.run_dir, ARTIFACTS]


def remember_log_sizes(settings: Settings | None = None) -> None:
    """Called at session start: later scans read each log from here on (default: the session's test stack)."""
    if settings is None:
        from .conftest import make_test_settings

        settings = make_test_settings()
    _sizes.clear()
    for path in log_files(log_roots(settings)):
        try:
            _sizes[path] = path.stat().st_size
        except OSError:
            continue


def written_since_start(path: Path) -> str:
    """What the session wrote to `path` (all of it when the file is new or was rotated)."""
    start = _sizes.get(path, 0)
    with path.open("rb") as handle:
        if handle.seek(0, 2) < start:
            start = 0
        handle.seek(start)
        return handle.read().decode("utf-8", "replace")


def _secret_values(model: BaseModel, where: str = "") -> Iterator[tuple[str, str]]:
    for name, value in model:
        if isinstance(value, SecretStr) and value.get_secret_value():
            yield f"{where}{name}", value.get_secret_value()
        elif isinstance(value, BaseModel):
            yield from _secret_values(value, f"{where}{name}.")


def secrets_of(settings: Settings) -> dict[str, str]:
    """name -> value of every secret the session uses: the Settings' SecretStr fields, the stack's own local API
    keys and Airflow's generated signing keys, and every webhook secret stored in the test database."""
    found = dict(_secret_values(settings))
    run_dir = settings.stack.run_dir
    for path in sorted((run_dir / "keys").glob("*.key")):
        found[f"local key {path.name}"] = path.read_text().strip()
    for path in sorted(run_dir.glob("airflow/**/*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and ("secret_key" in data or "jwt_secret" in data):
            for name, value in data.items():
                if isinstance(value, str) and len(value) >= DISTINCT_LENGTH:
                    found[f"airflow {path.name} {name}"] = value
    found.update(_webhook_secrets(settings))
    return found


def _webhook_secrets(settings: Settings) -> dict[str, str]:
    import psycopg

    try:
        with psycopg.connect(settings.postgres_dsn()) as conn:
            rows = conn.execute("SELECT rule_id, webhook_secret FROM alert_rules WHERE webhook_secret IS NOT NULL")
            return {f"webhook secret of {rule_id}": secret for rule_id, secret in rows}
    except psycopg.Error:
        return {}


def _patterns(secrets: dict[str, str]) -> list[tuple[str, re.Pattern[str]]]:
    patterns = list(KEY_SHAPES.items())
    for name, value in secrets.items():
        if len(value) >= DISTINCT_LENGTH:
            patterns.append((name, re.compile(re.escape(value))))
        else:
            # A short, common value ("marketpulse" is also the user, database and bucket prefix): only as a password.
            v = re.escape(value)
            shapes = [
                rf"pass(?:word|wd)?[\"']?\s*[:=]\s*[\"']?{v}(?![\w-])",
                rf"://[^/\s:@]*:{v}@",
                rf"(?:secret|token)[\w.]*[\"']?\s*[:=]\s*[\"']?{v}(?![\w-])",
                rf"\"admin\"\s*:\s*\"{v}\"",
            ]
            patterns.append((name, re.compile("|".join(shapes), re.IGNORECASE)))
    return patterns


def scan(paths: Iterable[Path], secrets: dict[str, str], *, since_start: bool = True) -> list[Finding]:
    """Every line of the logs that holds a secret (named, never shown)."""
    patterns = _patterns(secrets)
    findings = []
    for path in paths:
        try:
            text = written_since_start(path) if since_start else path.read_text("utf-8", "replace")
        except OSError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            findings += [Finding(path, number, name) for name, pattern in patterns if pattern.search(line)]
    return findings


def main(argv: list[str]) -> int:
    settings = Settings()
    roots = [Path(arg) for arg in argv] or [settings.stack.run_dir, ARTIFACTS]
    findings = scan(log_files(roots), secrets_of(settings), since_start=False)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} secrets found in the logs under {', '.join(map(str, roots))}")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
