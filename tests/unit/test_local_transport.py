"""The local runtime's in-process @connections transport: the handlers' lean client hands posts to
the gateway's connection table, answered exactly as the HTTP endpoint answers them (same status
codes, error codes and messages, the same fault injection), classified the same by chat.retry; an
endpoint without a registration (or a stopped gateway) still posts signed HTTP."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, EndpointConnectionError

from chat import connections_api, retry
from chat.connections_api import ConnectionsApi, GoneException, PayloadTooLargeException
from dynamowave.local.management import MAX_MESSAGE_BYTES, POSTS_ENV, Faults, LocalConnection, ManagementApi
from tests.support import free_port


class MiniGateway(ManagementApi):
    """The smallest host of ManagementApi: a WebSocket route and the @connections routes."""

    def __init__(self, port: int, faults: Faults) -> None:
        self.port = port
        self.faults = faults
        self.connections: dict[str, LocalConnection] = {}
        self.peers: list[Any] = []
        self.stats: Counter[str] = Counter()
        app = web.Application()
        app.router.add_get("/dev", self.websocket)
        route = "/dev/@connections/{connection_id}"
        app.router.add_post(route, self.post_to_connection)
        app.router.add_delete(route, self.delete_connection)
        self.app = app  # registers the in-process transport when served (ManagementApi.app)

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/dev"

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        connection_id = request.query["id"]
        self.connections[connection_id] = LocalConnection(connection_id, socket, 0, "127.0.0.1", "", None)
        async for _msg in socket:
            pass
        self.connections.pop(connection_id, None)
        return socket


class Served:
    """A MiniGateway served on its own event loop thread, with one WebSocket client ``c1``."""

    def __init__(self, faults: Faults) -> None:
        self.gateway = MiniGateway(free_port(), faults)
        self.loop = asyncio.new_event_loop()
        self.received: list[str] = []
        self.closed = threading.Event()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._serve(),), daemon=True)
        self.thread.start()
        assert self._ready.wait(10)

    async def _serve(self) -> None:
        import aiohttp

        self._stop = asyncio.Event()
        self.runner = web.AppRunner(self.gateway.app, handle_signals=False)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.gateway.port).start()
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"{self.gateway.management_url}?id=c1")

            async def read() -> None:
                async for msg in ws:
                    if msg.type == WSMsgType.TEXT:
                        self.received.append(msg.data)
                self.closed.set()

            reader = asyncio.create_task(read())
            while "c1" not in self.gateway.connections:
                await asyncio.sleep(0.01)
            self._ready.set()
            await self._stop.wait()
            await ws.close()
            await reader
        await self.runner.cleanup()

    def stop(self) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def served(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    mode = getattr(request, "param", "inprocess")
    monkeypatch.setenv(POSTS_ENV, mode)
    server = Served(Faults())
    try:
        yield server
    finally:
        server.stop()


def client(server: Served) -> ConnectionsApi:
    return ConnectionsApi(server.gateway.management_url, "eu-west-1", credentials=Credentials("AK", "SK"))


def wait_for(check: Any, timeout: float = 5.0) -> bool:
    event = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if check():
            return True
        event.wait(0.01)
    return bool(check())


def test_a_post_is_delivered_in_process_and_registered_by_endpoint(served: Served) -> None:
    assert connections_api.transport_for(served.gateway.management_url) is not None
    assert connections_api.transport_for(served.gateway.management_url + "/") is not None
    response = client(served).post_to_connection(ConnectionId="c1", Data=b'{"type":"x"}')
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert wait_for(lambda: served.received == ['{"type":"x"}'])
    assert served.gateway.stats["post_in_process"] == 1
    assert served.gateway.stats["post_delivered"] == 1


@pytest.mark.parametrize("served", ["inprocess", "http"], indirect=True)
def test_answers_and_their_classification_are_the_same_in_process_and_over_http(served: Served) -> None:
    api = client(served)
    with pytest.raises(GoneException) as gone:
        api.post_to_connection(ConnectionId="nobody", Data=b"x")
    assert gone.value.response["Error"] == {"Code": "GoneException", "Message": "Connection is gone"}
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    assert not retry.is_transient(gone.value)

    with pytest.raises(PayloadTooLargeException) as big:
        api.post_to_connection(ConnectionId="c1", Data=b"x" * (MAX_MESSAGE_BYTES + 1))
    assert big.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert big.value.response["Message"] == "Message too long"  # type: ignore[typeddict-item]

    served.gateway.faults.fault_rate = 1.0
    codes = set()
    for _ in range(40):
        with pytest.raises(ClientError) as fault:
            api.post_to_connection(ConnectionId="c1", Data=b"x")
        codes.add((fault.value.response["Error"]["Code"], fault.value.response["ResponseMetadata"]["HTTPStatusCode"]))
        assert retry.is_transient(fault.value)
    assert codes == {("LimitExceededException", 429), ("InternalServerErrorException", 500)}

    served.gateway.faults.fault_rate = 0.0
    served.gateway.faults.gone_rate = 1.0  # an injected 410 closes the client's socket too
    with pytest.raises(GoneException) as injected:
        api.post_to_connection(ConnectionId="c1", Data=b"x")
    assert injected.value.response["Error"]["Message"] == "Connection is gone (injected)"
    assert served.closed.wait(5)
    in_process = served.gateway.stats["post_in_process"]
    assert in_process == (0 if served.gateway._posts is None else served.gateway.stats["post"])


def test_concurrent_posts_from_many_threads_are_all_answered(served: Served) -> None:
    api = client(served)
    outcomes: list[int] = []
    lock = threading.Lock()

    def post(i: int) -> None:
        status = api.post_to_connection(ConnectionId="c1", Data=f"m{i}".encode())["ResponseMetadata"]["HTTPStatusCode"]
        with lock:
            outcomes.append(status)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert outcomes == [200] * 200
    assert wait_for(lambda: len(served.received) == 200)
    assert sorted(served.received) == sorted(f"m{i}" for i in range(200))


def test_injected_latency_applies_in_process(served: Served) -> None:
    import time

    served.gateway.faults.latency_ms = 150
    started = time.monotonic()
    client(served).post_to_connection(ConnectionId="c1", Data=b"slow")
    assert time.monotonic() - started >= 0.15


def test_a_stopped_gateway_unregisters_and_its_transport_refuses() -> None:
    server = Served(Faults())
    url = server.gateway.management_url
    transport = connections_api.transport_for(url)
    assert transport is not None
    server.stop()
    assert connections_api.transport_for(url) is None
    with pytest.raises(EndpointConnectionError):
        transport("c1", b"x")  # a client still holding it: a network error, as a closed port
    with pytest.raises(EndpointConnectionError):  # and the lean client is back on HTTP: refused
        ConnectionsApi(url, "eu-west-1", credentials=Credentials("AK", "SK")).post_to_connection(
            ConnectionId="c1", Data=b"x"
        )


def test_posting_from_the_event_loop_thread_is_refused(served: Served) -> None:
    transport = connections_api.transport_for(served.gateway.management_url)
    assert transport is not None
    future = asyncio.run_coroutine_threadsafe(_call_on_loop(transport), served.loop)
    with pytest.raises(RuntimeError, match="must not block"):
        future.result(5)


async def _call_on_loop(transport: Any) -> Any:
    return transport("c1", b"x")


def test_an_in_process_endpoint_needs_few_posts_in_flight_unless_latency_is_injected(served: Served) -> None:
    api = client(served)
    assert api.concurrency(64) == 8
    assert api.concurrency(4) == 4
    served.gateway.faults.latency_ms = 20  # waited out concurrently, as the network's latency
    assert api.concurrency(64) == 64
    assert ConnectionsApi("https://x.execute-api.eu-west-1.amazonaws.com/prod", "eu-west-1").concurrency(64) == 64
