"""Property-based tests of the OpenAPI schema with schemathesis (positive and negative data).

Fixed seed, bounded examples. Zero server errors, zero schema violations: every response must
have a documented status, content type and body schema.
"""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode, checks

MAX_EXAMPLES = 6


@pytest.fixture(scope="module")
def openapi_schema(shared_api: Any) -> Any:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", shared_api.client.app)
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=MAX_EXAMPLES,
        deterministic=True,
        allow_x00=False,
    )
    return schema


schema = schemathesis.pytest.from_fixture("openapi_schema")
#: Operations that render maps, files or solve models: a couple of examples each.
HEAVY = r"^/api/(maps|exports)/|^/api/coverage|^/api/plans/rebalance$"
#: Reloading the shipped layers would replace the tiny test data: not a fuzzing target.
SKIP = r"^/api/admin/layers$"


def _check(case: Any, api: Any) -> None:
    # positive_data_acceptance is left out: business limits that JSON Schema cannot express
    # (bbox area, page size from the settings, unknown ids) rightly answer 4xx to schema-valid
    # requests. Everything else runs, including negative_data_rejection.
    case.call_and_validate(
        headers=api.headers("admin"), excluded_checks=[checks.positive_data_acceptance]
    )


@schema.exclude(path_regex=HEAVY).exclude(path_regex=SKIP).parametrize()
@hypothesis.seed(20261125)
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_openapi(case: Any, shared_api: Any) -> None:
    _check(case, shared_api)


@schema.include(path_regex=HEAVY).parametrize()
@hypothesis.seed(20261125)
@hypothesis.settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_openapi_heavy(case: Any, shared_api: Any) -> None:
    _check(case, shared_api)


def test_stateful_plan_links(shared_api: Any) -> None:
    """Stateful run through the OpenAPI links (propose → show/diff/apply/discard → undo;
    locate → assignment → put with its ETag)."""
    raw = schemathesis.openapi.from_asgi("/api/openapi.json", shared_api.client.app)
    raw.config.generation.update(modes=[GenerationMode.POSITIVE], allow_x00=False)
    plans = raw.include(path_regex=r"^/api/(plans|locate|assignments)")
    headers = shared_api.headers("admin")

    class Machine(plans.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Any, case: Any, **kw: Any) -> None:
            case.validate_response(
                response,
                excluded_checks=[checks.positive_data_acceptance],
                transport_kwargs=kw or None,
            )

    Machine.run(
        settings=hypothesis.settings(
            max_examples=6,
            stateful_step_count=4,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
            database=None,
        )
    )
