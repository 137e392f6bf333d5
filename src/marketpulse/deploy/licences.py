"""Licence check of everything the Terraform build pulls: providers, modules, Helm charts, bindings, the CLI.

MarketPulse ships under Apache-2.0 and depends on no AGPL, SSPL or BUSL code (issue 14). Licences come from
a table with its sources, or from the artefact itself where it says (npm package.json); anything not in the
table is a finding too, so a new provider cannot slip in unreviewed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from marketpulse.deploy.rules import load_module

#: Provider source => SPDX licence, as published with each provider (LICENSE file / package metadata).
PROVIDER_LICENCES = {
    "hashicorp/aws": "MPL-2.0",
    "hashicorp/google": "MPL-2.0",
    "hashicorp/azurerm": "MPL-2.0",
    "hashicorp/random": "MPL-2.0",
    "hashicorp/kubernetes": "MPL-2.0",
    "hashicorp/helm": "MPL-2.0",
    "hashicorp/tls": "MPL-2.0",
    "mongey/kafka": "MIT",
    # conda-forge and Gentoo metadata of terraform-provider-postgresql 1.26 (decision 0010).
    "cyrilgdn/postgresql": "MPL-2.0",
    # Marked not-to-use in the package lists we build from; listed so the check names it if it comes back.
    "aminueza/minio": "AGPL-3.0-only",
}
#: (repository, chart) => licence of Helm charts a module installs.
CHART_LICENCES = {("https://airflow.apache.org", "airflow"): "Apache-2.0"}
#: Licences we may not depend on.
FORBIDDEN = re.compile(r"AGPL|SSPL|BUSL|Commons-Clause|Elastic-2\.0|RSAL", re.IGNORECASE)


@dataclass(frozen=True)
class Component:
    """One thing the build pulls, its licence, and where it is referenced."""

    kind: str
    name: str
    licence: str
    where: str

    @property
    def problem(self) -> str | None:
        if self.licence == "unknown":
            return f"{self.kind} {self.name}: licence unknown; add it to marketpulse.deploy.licences after review"
        if FORBIDDEN.search(self.licence):
            return f"{self.kind} {self.name} is {self.licence}, which MarketPulse (Apache-2.0) may not depend on"
        return None


def terraform_cli_licence(name: str, version: tuple[int, int, int] | None) -> str:
    """Terraform is MPL-2.0 up to 1.5.x and BUSL-1.1 from 1.6.0; OpenTofu (its fork) stays MPL-2.0."""
    if name == "tofu":
        return "MPL-2.0"
    if version is None:
        return "unknown"
    return "BUSL-1.1" if version[:2] >= (1, 6) else "MPL-2.0"


def _quoted(value: object) -> str:
    return str(value).strip('"')


def terraform_components(sources: Path) -> list[Component]:
    """Providers, modules and Helm charts referenced anywhere under terraform/."""
    import hcl2

    components: list[Component] = []
    for folder in sorted({tf.parent for tf in sources.rglob("*.tf") if ".terraform" not in tf.parts}):
        where = str(folder.relative_to(sources))
        module = load_module(folder)
        for tf in sorted(folder.glob("*.tf")):
            with tf.open() as handle:
                parsed = hcl2.load(handle)
            for block in parsed.get("terraform", []):
                for required in block.get("required_providers", []):
                    for spec in required.values():
                        if isinstance(spec, dict):
                            source = _quoted(spec["source"]).lower()
                            licence = PROVIDER_LICENCES.get(source, "unknown")
                            components.append(Component("provider", source, licence, where))
            for block in parsed.get("module", []):
                for name, call in block.items():
                    source = _quoted(call.get("source", ""))
                    local = source.startswith(("./", "../"))
                    licence = "Apache-2.0" if local else "unknown"
                    components.append(Component("module", f"{_quoted(name)} ({source})", licence, where))
        for type_name, _name, body in module.resources:
            if type_name == "helm_release":
                key = (_quoted(body.get("repository", "")), _quoted(body.get("chart", "")))
                licence = CHART_LICENCES.get(key, "unknown")
                components.append(Component("helm chart", f"{key[1]} from {key[0]}", licence, where))
    return components


def npm_components(cdktf_root: Path) -> list[Component]:
    """The @cdktf/provider-* bindings the schema lint downloads, with the licence their package.json states."""
    components = []
    for package_json in sorted(cdktf_root.glob("*/package/package.json")):
        meta = json.loads(package_json.read_text())
        licence = str(meta.get("license", "unknown"))
        components.append(Component("npm package", f"{meta['name']}@{meta['version']}", licence, str(cdktf_root)))
    return components


def licence_problems(components: list[Component]) -> list[str]:
    """One line per component that is forbidden or unknown (each distinct problem once)."""
    return sorted({problem for component in components if (problem := component.problem)})
