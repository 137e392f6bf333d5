"""The model registry and the walk-forward evaluation reports stored beside it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from marketpulse.api.deps import ResourcesDep
from marketpulse.models.registry import ModelRegistry

router = APIRouter(prefix="/v1/models", tags=["models"])

Name = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Model name, e.g. price.")]
ReportId = Annotated[str, Path(pattern=r"^r\d{8}T\d{6}$", description="Report id, e.g. r20261123T150000.")]
FileName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}\.(html|md|svg|json)$", description="report.html...")]
MEDIA_TYPES = {"html": "text/html", "md": "text/markdown", "svg": "image/svg+xml", "json": "application/json"}


@router.get("", summary="Every model with its production version")
def list_models(resources: ResourcesDep) -> list[dict[str, Any]]:
    registry = ModelRegistry(resources.settings)
    return [
        {"name": name, "production": registry.production_version(name), "versions": registry.versions(name)}
        for name in registry.names()
    ]


@router.get("/{name}", summary="A model's versions: kind, training range, held-out scores, promotion history")
def read_model(name: Name, resources: ResourcesDep) -> dict[str, Any]:
    registry = ModelRegistry(resources.settings)
    keep = ("kind", "train_range", "test_range", "data_source", "code_version", "decision", "report", "horizons")
    versions = []
    for version in registry.versions(name):
        meta = registry.meta(name, version)
        versions.append({"version": version, **{k: meta[k] for k in keep if k in meta}, "metrics": meta.get("metrics")})
    return {
        "name": name,
        "production": registry.production_version(name),
        "history": registry.history(name),
        "versions": versions,
    }


@router.get("/{name}/reports", summary="Walk-forward evaluation reports of a model, newest first")
def list_reports(name: Name, resources: ResourcesDep) -> list[dict[str, Any]]:
    from marketpulse.models.report import list_reports as listed

    reports = listed(ModelRegistry(resources.settings), name)
    for report in reports:
        report["links"] = {f: f"/v1/models/{name}/reports/{report['report_id']}/{f}" for f in report["files"]}
    return reports


@router.get("/{name}/reports/{report_id}/{file_name}", summary="One file of a report (HTML, Markdown, SVG, JSON)")
def read_report_file(name: Name, report_id: ReportId, file_name: FileName, resources: ResourcesDep) -> Response:
    from marketpulse.models.report import report_prefix

    body = ModelRegistry(resources.settings).get_bytes(report_prefix(name, report_id) + file_name)
    return Response(body, media_type=MEDIA_TYPES[file_name.rsplit(".", 1)[1]])
