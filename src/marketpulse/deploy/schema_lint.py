"""Check the cloud modules' resource arguments against the providers' schemas, without the provider binaries.

hashicorp/aws, google and azurerm cannot be built here (the Go module proxy refuses every version we need), so
`terraform validate` cannot run for the cloud environments. The prebuilt CDK for Terraform bindings on npm
(@cdktf/provider-*) are generated from those providers' schemas (aws 6.25, google 6.50, azurerm 4.55): their
JavaScript names every argument and nested block of every resource in snake_case, and their type declarations
say which arguments are required. This lint reads them and checks each resource and data block in terraform/:
unknown arguments or blocks, missing required arguments, and references to attributes a resource lacks.
It is narrower than validate (no types, no conflicts between arguments), and says so in docs/decisions/0004.
"""

from __future__ import annotations

import re
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marketpulse.deploy.errors import TerraformError
from marketpulse.deploy.paths import TerraformPaths
from marketpulse.stack.install import Progress, apt_install, install_lock
from marketpulse.stack.process import run_checked

#: npm packages whose bindings were generated from the provider versions the cloud envs target.
CDKTF_PACKAGES = {
    "aws": "@cdktf/provider-aws@21.22.1",
    "google": "@cdktf/provider-google@16.12.1",
    "azurerm": "@cdktf/provider-azurerm@14.23.1",
    "kubernetes": "@cdktf/provider-kubernetes@12.1.1",
    "helm": "@cdktf/provider-helm@12.1.2",
    "random": "@cdktf/provider-random@12.0.1",
}
_META = {"count", "for_each", "depends_on", "lifecycle", "provider", "__is_block__", "__comments__", "__start_line__"}
_META |= {"__end_line__", "__inline_comments__", "connection", "provisioner"}
_ENTRY = re.compile(r"^\s+([a-z0-9_]+): (.+?),?$")
_NESTED = re.compile(r"\b([a-z]\w*)ToTerraform\b")


@dataclass
class Block:
    """Arguments and nested blocks of a resource or block, from the bindings."""

    arguments: set[str] = field(default_factory=set)
    blocks: dict[str, Block] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    readable: set[str] = field(default_factory=set)


def ensure_bindings(paths: TerraformPaths, progress: Progress) -> Path:
    """Unpack the three @cdktf/provider-* tarballs (npm pack, ~100 MB download once) under .stack/terraform/cdktf."""
    root = paths.cache / "cdktf"
    with install_lock(paths.cache):
        for spec in CDKTF_PACKAGES.values():
            name = spec.split("/")[1].replace("@", "-")
            target = root / name
            if (target / "package" / "package.json").is_file():
                continue
            npm = shutil.which("npm")
            if not npm:
                apt_install(["npm"], progress)
                npm = shutil.which("npm") or "npm"
            progress(f"npm pack {spec} (provider schema bindings, first time only)")
            target.mkdir(parents=True, exist_ok=True)
            run_checked([npm, "pack", spec, "--pack-destination", str(target)], what=f"npm pack {spec}", timeout_s=900)
            (tarball,) = target.glob("*.tgz")
            with tarfile.open(tarball) as archive:
                archive.extractall(target, filter="data")
            tarball.unlink()
    return root


def _object_body(text: str, start: int) -> list[str]:
    """Lines of the `return { ... }` object that starts after index start (closed at the same indentation)."""
    begin = text.index("return {", start)
    if text.startswith("return {};", begin):  # a data source without arguments
        return []
    indent = begin - text.rindex("\n", 0, begin) - 1
    end = text.index("\n" + " " * indent + "};", begin)
    return text[begin:end].splitlines()[1:]


class Schemas:
    """Resource and data-source schemas of one provider's bindings, loaded on demand."""

    def __init__(self, package_dir: Path) -> None:
        self.lib = package_dir / "package" / "lib"
        self._files: dict[tuple[str, str], Path] = {}
        for index in self.lib.glob("*/index.js"):
            head = index.read_text(errors="replace")
            match = re.search(r'\.tfResourceType = "([a-z0-9_]+)"', head)
            if match:
                folder = index.parent.name
                kind = "provider" if folder == "provider" else "data" if folder.startswith("data-") else "resource"
                self._files[(kind, match[1])] = index
        self._cache: dict[tuple[str, str], Block] = {}

    def get(self, kind: str, type_name: str) -> Block | None:
        key = (kind, type_name)
        if key not in self._files:
            return None
        if key not in self._cache:
            try:
                self._cache[key] = self._load(self._files[key])
            except ValueError as exc:  # a binding laid out differently than the parser expects
                raise TerraformError(f"cannot read the schema of {type_name} from {self._files[key]}: {exc}") from exc
        return self._cache[key]

    def _load(self, index: Path) -> Block:
        js = index.read_text(errors="replace")
        dts = index.with_suffix(".d.ts").read_text(errors="replace")
        functions = {m[1]: m.end() for m in re.finditer(r"\nfunction (\w+)ToTerraform\(struct\) \{", js)}
        cls = re.search(r"\nclass (\w+) extends cdktf\.Terraform(?:Resource|DataSource|Provider) ", js)
        if cls is None:
            raise TerraformError(f"{index} holds no resource class")
        class_name = cls[1]
        top = self._block(
            js,
            dts,
            _object_body(js, js.index("synthesizeAttributes() {", cls.start())),
            functions,
            f"{class_name}Config",
        )
        top.readable = set(re.findall(r"get\w*Attribute\('([a-z0-9_]+)'\)", js))
        # Computed nested lists (e.g. google_redis_instance.server_ca_certs) are built as List objects.
        top.readable |= set(re.findall(r'new \w+List\(this, "([a-z0-9_]+)", (?:false|true)\)', js))
        return top

    def _block(self, js: str, dts: str, lines: list[str], functions: dict[str, int], interface: str) -> Block:
        block = Block()
        camel_of: dict[str, str] = {}
        for line in lines:
            entry = _ENTRY.match(line)
            if not entry:
                continue
            key, expr = entry[1], entry[2]
            nested = [name for name in _NESTED.findall(expr) if name in functions]
            camel = re.search(r"(?:this\._|struct\.|struct\[')(\w+)", expr)
            if camel:
                camel_of[key] = camel[1]
            if nested:
                fn = nested[0]
                body = _object_body(js, functions[fn])
                block.blocks[key] = self._block(js, dts, body, functions, fn[0].upper() + fn[1:])
            else:
                block.arguments.add(key)
        declared = re.search(r"export interface " + interface + r"\b[^{]*\{(.*?)\n\}", dts, re.S)
        if declared:
            required_camel = set(re.findall(r"readonly (\w+): ", declared[1]))
            block.required = {key for key, camel in camel_of.items() if camel in required_camel}
        return block


@dataclass(frozen=True)
class Finding:
    """One problem in one file."""

    file: Path
    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.problem}"


def _name(key: str) -> str:
    return key.strip('"')


def _check_body(body: dict[str, Any], schema: Block, where: str, file: Path) -> list[Finding]:
    findings = []
    present = set()
    for key, value in body.items():
        if key in _META:
            continue
        if key == "dynamic":
            for dynamic in value:
                for raw_name, spec in dynamic.items():
                    name = _name(raw_name)
                    present.add(name)
                    if name not in schema.blocks:
                        findings.append(Finding(file, where, f"dynamic block {name!r} is not a block here"))
                        continue
                    for content in spec.get("content", []):
                        findings += _check_body(content, schema.blocks[name], f"{where}.{name}", file)
            continue
        present.add(key)
        if key in schema.blocks:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    findings += _check_body(item, schema.blocks[key], f"{where}.{key}", file)
        elif key not in schema.arguments:
            findings.append(Finding(file, where, f"unknown argument or block {key!r}"))
    for missing in sorted(schema.required - present):
        findings.append(Finding(file, where, f"required argument {missing!r} is missing"))
    return findings


def lint_module(module_dir: Path, schemas: dict[str, Schemas]) -> list[Finding]:
    """Findings for every resource and data block of one module whose provider has bindings."""
    import hcl2

    findings: list[Finding] = []
    declared: set[tuple[str, str, str]] = set()
    texts = []
    for tf in sorted(module_dir.glob("*.tf")):
        texts.append(tf.read_text())
        with tf.open() as handle:
            parsed = hcl2.load(handle)
        for block in parsed.get("provider", []):
            for raw_name, body in block.items():
                provider_name = _name(raw_name)
                provider_schema = (
                    schemas[provider_name].get("provider", provider_name) if provider_name in schemas else None
                )
                if provider_schema is not None:
                    findings += _check_body(body, provider_schema, f"provider {provider_name}", tf)
        for kind in ("resource", "data"):
            for entry in parsed.get(kind, []):
                for raw_type, instances in entry.items():
                    type_name = _name(raw_type)
                    provider = type_name.split("_", 1)[0]
                    if provider not in schemas:
                        continue
                    schema = schemas[provider].get(kind, type_name)
                    if schema is None:
                        findings.append(Finding(tf, f"{kind} {type_name}", "no such type in the provider"))
                        continue
                    for raw_name, body in instances.items():
                        declared.add((kind, type_name, _name(raw_name)))
                        findings += _check_body(body, schema, f"{type_name}.{_name(raw_name)}", tf)
    findings += _check_references("\n".join(texts), declared, schemas, module_dir)
    return findings


def _check_references(
    text: str, declared: set[tuple[str, str, str]], schemas: dict[str, Schemas], module_dir: Path
) -> list[Finding]:
    findings = []
    pattern = re.compile(
        r"(?<![\w.])(data\.)?([a-z]+_[a-z0-9_]+)\.([a-z_][a-z0-9_]*)(?:\[[^\]]*\])?\.([a-z_][a-z0-9_]*)"
    )
    for is_data, type_name, name, attribute in pattern.findall(text):
        kind = "data" if is_data else "resource"
        provider = type_name.split("_", 1)[0]
        # Keyed by type too: a module has many resources named `this`.
        if provider not in schemas or (kind, type_name, name) not in declared:
            continue
        schema = schemas[provider].get(kind, type_name)
        if schema and attribute not in schema.readable | schema.arguments | set(schema.blocks):
            findings.append(Finding(module_dir, f"{type_name}.{name}", f"has no attribute {attribute!r}"))
    return findings


def lint_cloud_modules(paths: TerraformPaths, progress: Progress) -> list[Finding]:
    """Findings for every module and env root of terraform/ (the cloud ones are those with bindings)."""
    root = ensure_bindings(paths, progress)
    schemas = {
        provider: Schemas(root / spec.split("/")[1].replace("@", "-")) for provider, spec in CDKTF_PACKAGES.items()
    }
    folders = sorted({tf.parent for tf in paths.sources.rglob("*.tf") if ".terraform" not in tf.parts})
    findings: list[Finding] = []
    for folder in folders:
        findings += lint_module(folder, schemas)
    return findings
