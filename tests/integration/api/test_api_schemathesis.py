"""Schemathesis fuzzes every operation of the OpenAPI document against a real API process on the test stack:
no input may produce a server error, and every response must match what the document promises."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from integration.api.test_api_support import ARTIFACTS, api_server, create_key
from marketpulse.config import Settings
from marketpulse.stack.manager import Stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def api_base(stack: Stack, settings: Settings) -> Iterator[str]:
    with api_server(settings, ARTIFACTS / "schemathesis-api.log") as base:
        yield base


@pytest.fixture(scope="module")
def api_key(settings: Settings, stack: Stack) -> str:
    return create_key(settings, "schemathesis", rate=100_000)[1]


OPERATIONS_EXPECTED = 10


def test_no_input_breaks_the_api(api_base: str, api_key: str) -> None:
    """Every operation, a dozen generated cases each (schemathesis' pytest plugin does not run on pytest 9, so
    its case strategies are driven with hypothesis directly)."""
    schema = schemathesis.openapi.from_url(f"{api_base}/openapi.json")
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= OPERATIONS_EXPECTED
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: Any) -> None:
            case.call_and_validate(base_url=api_base, headers={"X-API-Key": api_key}, checks=checks)

        fuzz()
