"""Integration fixtures. The ``backend`` fixture is session scoped and parametrized (embedded moto
server, DynamoDB Local): pytest groups the tests by it, so each module's runtime starts once per
backend and DynamoDB Local starts once per session."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest
from dwkit import ChatClient, Runtime, open_ws, running, ws_url

from dynamowave.ddblocal import DynamoDBLocal, DynamoDBLocalUnavailable
from tests.support import is_ci

# ---- backends -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    """One DynamoDB Local for the session (runtimes use distinct table names in it)."""
    ddb = DynamoDBLocal(startup_timeout=60)
    message = None
    try:
        ddb.start()
    except DynamoDBLocalUnavailable as err:
        message = f"DynamoDB Local unavailable: {err}"
        if "make test-deps" not in message:
            message += "; run `make test-deps`"
    if message is not None:
        if is_ci():  # CI must run every backend: a missing Java or jar is a failure there
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    yield ddb
    ddb.stop()


BACKENDS = ["moto", pytest.param("dynamodb-local", marks=pytest.mark.dynamodb_local)]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """(name, --dynamodb-endpoint or None): the embedded moto server, then DynamoDB Local."""
    if request.param == "moto":
        return "moto", None
    ddb: DynamoDBLocal = request.getfixturevalue("dynamodb_local")
    return "dynamodb-local", ddb.endpoint_url


@pytest.fixture(scope="module")
def runtime(backend: tuple[str, str | None]) -> Iterator[Runtime]:
    """The default runtime (auth off, one region), one per test module and backend."""
    with running(backend) as rt:
        yield rt


@pytest.fixture
def clients() -> Iterator[Callable[..., ChatClient]]:
    """``clients(runtime, label, region=0, origin=None, **query)`` opens a client closed at the end
    of the test (``origin``: the Origin header a browser page would send)."""
    with contextlib.ExitStack() as stack:

        def open_client(
            runtime: Runtime, label: str = "client", region: int = 0, origin: str | None = None, **query: str
        ) -> ChatClient:
            return stack.enter_context(open_ws(ws_url(runtime, region, **query), label, origin))

        yield open_client
