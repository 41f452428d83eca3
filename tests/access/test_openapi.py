"""schemathesis against the service's own OpenAPI spec: whatever it generates, no server error."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from envlake.access.api import create_app
from tests.access.conftest import Api

pytestmark = pytest.mark.integration


def test_no_server_error_for_any_generated_request(api: Api) -> None:
    """Every operation, with generated parameters and bodies, with and without a valid token."""
    code, headers = api.department("fuzz")
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(api.service))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/datasets", "/datasets/{dataset}/rows", "/query"}
    datasets = sorted(api.service.published.get().datasets)
    for operation in operations:
        @given(case=operation.as_strategy(), real=st.sampled_from(datasets), use_real=st.booleans())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: schemathesis.Case, real: str, use_real: bool) -> None:
            if use_real and "dataset" in (case.path_parameters or {}):  # half the time a dataset that exists
                case.path_parameters["dataset"] = real
            case.call_and_validate(headers=headers, checks=[not_a_server_error])
            case.call_and_validate(checks=[not_a_server_error])  # no token: 401, never 500

        run()

    outcomes = {(r["action"], r["outcome"]) for r in api.audit(code)}
    assert {("fetch", "granted"), ("fetch", "refused"), ("query", "refused")} <= outcomes  # real work, not only 4xx
