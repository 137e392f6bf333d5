"""`terraform output` -> the application's MARKETPULSE_* env file, checked against the Settings schema."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from marketpulse.config import Settings
from marketpulse.deploy.errors import TerraformError

#: Outputs every environment root defines: plain settings, and secret ones kept in a sensitive output.
ENV_OUTPUTS = ("app_env", "app_secrets")

_NAME = re.compile(r"^MARKETPULSE_([A-Z0-9_]+?)(?:__([A-Z0-9_]+))?$")


def check_setting_name(name: str) -> None:
    """Raise unless name is MARKETPULSE_<FIELD> or MARKETPULSE_<SECTION>__<FIELD> of Settings."""
    match = _NAME.match(name)
    if not match:
        raise TerraformError(f"output variable {name!r} is not a MARKETPULSE_* setting name")
    section, field = match[1].lower(), match[2]
    if section not in Settings.model_fields:
        raise TerraformError(f"output variable {name}: Settings has no field or section {section!r}")
    if field is None:
        return
    annotation = Settings.model_fields[section].annotation
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        raise TerraformError(f"output variable {name}: {section!r} is not a settings section")
    if field.lower() not in annotation.model_fields:
        raise TerraformError(f"output variable {name}: section {section!r} has no field {field.lower()!r}")


def app_env_from_outputs(outputs: Mapping[str, Any]) -> dict[str, str]:
    """Merge the env outputs of `terraform output -json` into one checked name => string mapping."""
    missing = [name for name in ENV_OUTPUTS if name not in outputs]
    if missing:
        raise TerraformError(f"terraform outputs lack {', '.join(missing)}; was the environment applied?")
    env: dict[str, str] = {}
    for output in ENV_OUTPUTS:
        values = outputs[output]
        if not isinstance(values, dict):
            raise TerraformError(f"output {output} must be a map of strings, got {type(values).__name__}")
        for name, value in values.items():
            check_setting_name(name)
            env[name] = value if isinstance(value, str) else json.dumps(value)
    return env


def _quote(value: str) -> str:
    # Single quotes are literal for python-dotenv (no escapes, no ${VAR} expansion) and for `set -a; . file`.
    if "'" not in value:
        return f"'{value}'"
    # Rare: a single quote inside; python-dotenv unescapes \\ and \" in double quotes, but expands ${...} there.
    if "${" in value:
        raise TerraformError("a value holding both ' and ${ cannot be written to a dotenv file unchanged")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_env_file(env: Mapping[str, str], path: Path, *, environment: str) -> Path:
    """Write env as a dotenv file (mode 600: it holds secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# MarketPulse settings from `terraform output` of the {environment} environment.", ""]
    lines += [f"{name}={_quote(value)}" for name, value in sorted(env.items())]
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n")
    return path
