"""`marketpulse platform memory`: the per-role table; and the imports that keep the platform's processes small."""

from __future__ import annotations

import subprocess
import sys

from rich.console import Console

from marketpulse.platform.memory import PlatformMemory, ProcessMemory, RoleMemory, memory_table

GIB = 2**30


def _render(memory: PlatformMemory) -> str:
    console = Console(width=250, record=True)
    console.print(memory_table(memory))
    return console.export_text()


def test_memory_table_lists_roles_largest_first_with_the_total() -> None:
    kafka = RoleMemory("kafka", [ProcessMemory("kafka", 1, "java", GIB // 2, GIB // 4, "256m")])
    api = RoleMemory("api", [ProcessMemory("api", 2, "python", GIB // 8, GIB // 16)])
    text = _render(PlatformMemory({"api": api, "kafka": kafka}, frozenset({"api"})))
    lines = [line for line in text.splitlines() if line.startswith("│")]
    assert [line.split("│")[1].strip() for line in lines] == ["kafka", "api", "total"]
    total = [cell.strip() for cell in lines[-1].split("│")]
    assert total[2:5] == ["2", "0.62", "0.31"]  # processes, RSS GiB, PSS GiB
    assert "java 0.50 GiB (-Xmx256m)" in text
    assert "platform running" in text


def test_memory_table_shows_unknown_pss_as_a_dash() -> None:
    job = RoleMemory("market job", [ProcessMemory("market job", 3, "python", GIB, None)])
    text = _render(PlatformMemory({"market job": job}, frozenset({"api"})))
    total = next(line for line in text.splitlines() if line.startswith("│ total"))
    assert [cell.strip() for cell in total.split("│")][2:5] == ["1", "1.00", "-"]
    assert "no platform app running" in text


def _imported_after(code: str) -> set[str]:
    """Which of pandas and torch a fresh interpreter holds after running `code`."""
    probe = f"{code}\nimport sys\nprint(','.join(sorted({{'pandas', 'torch'}} & set(sys.modules))))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return set(filter(None, result.stdout.strip().split(",")))


def test_the_light_processes_do_not_import_pandas() -> None:
    # The CLI, API workers, alert engine and dashboard: pandas costs ~0.12 GiB resident per process, and only the
    # jobs, the replay ingest and the scorecard need it.
    code = (
        "import marketpulse.cli.main, marketpulse.api.app, marketpulse.alerts.service, marketpulse.dashboard.app\n"
        "from marketpulse.api.app import create_app\nfrom marketpulse.config import Settings\ncreate_app(Settings())"
    )
    assert _imported_after(code) == set()


def test_serving_limits_torch_threads_without_importing_torch() -> None:
    # The trees and the logistic model serve without torch (~0.4 GiB resident with the PyPI wheel's CUDA libs).
    code = "from marketpulse.models.serving import _limit_torch_threads\n_limit_torch_threads(1)"
    assert "torch" not in _imported_after(code)
