"""Where the Terraform sources live in the checkout and where their cache goes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from marketpulse.config import Settings
from marketpulse.deploy.errors import TerraformError

ENVIRONMENTS = ("local", "aws", "gcp", "azure")


def find_terraform_sources(start: Path | None = None) -> Path:
    """The repository's terraform/ folder: next to src/ for a checkout (editable install), else under cwd."""
    candidates = [Path(__file__).resolve().parents[3] / "terraform", (start or Path.cwd()).resolve() / "terraform"]
    for candidate in candidates:
        if (candidate / "modules" / "catalog" / "catalog.json").is_file():
            return candidate
    raise TerraformError(
        "terraform/ sources not found (looked in "
        + ", ".join(str(c) for c in candidates)
        + "); run the command from a MarketPulse checkout"
    )


@dataclass(frozen=True)
class TerraformPaths:
    """The checkout's terraform/ sources, the ignored cache beside the stack (.stack/terraform), and where
    installed programs go (tools: the stack's shared cache, .stack/cache, which holds the OpenTofu build)."""

    sources: Path
    cache: Path
    tools: Path | None = None

    @classmethod
    def for_settings(cls, settings: Settings, sources: Path | None = None) -> TerraformPaths:
        return cls(
            sources=sources or find_terraform_sources(),
            cache=settings.stack.root / "terraform",
            tools=settings.stack.cache_dir,
        )

    @property
    def tool_cache(self) -> Path:
        """Where `tofu` is built: `tools`, else a folder of the terraform cache."""
        return self.tools if self.tools is not None else self.cache / "tools"

    @property
    def mirror(self) -> Path:
        """The filesystem mirror tofu installs providers from (no provider registry can be reached)."""
        return self.cache / "providers"

    @property
    def cli_config(self) -> Path:
        """TF_CLI_CONFIG_FILE (read by tofu and terraform): points provider installation at the mirror only."""
        return self.cache / "terraformrc"

    @property
    def catalog(self) -> Path:
        return self.sources / "modules" / "catalog" / "catalog.json"

    def env_root(self, environment: str) -> Path:
        if environment not in ENVIRONMENTS:
            raise TerraformError(f"unknown environment {environment!r}; known: {', '.join(ENVIRONMENTS)}")
        return self.sources / "envs" / environment

    def work_dir(self, instance: str, environment: str) -> Path:
        """Per stack instance and environment: TF_DATA_DIR, state and the generated variables file."""
        return self.cache / "work" / instance / environment
