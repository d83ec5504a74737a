"""``--dynamodb-fault-rate``: a loopback proxy in front of the table's endpoint that answers a share
of DynamoDB calls the way a throttled table does (HTTP 400 ``ProvisionedThroughputExceededException``).
The handlers' SDK sees a real throttling response, retries it with its own policy, and what still
fails reaches the code exactly as on AWS. Works in front of the embedded moto server and DynamoDB
Local alike; the local stream poller reads the table directly, unthrottled."""

from __future__ import annotations

import random
from collections import Counter

from aiohttp import ClientSession, web

THROTTLED = (
    '{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
    '"message":"The level of configured provisioned throughput for the table was exceeded (injected)"}'
)
# Hop-by-hop and length headers are the proxy's own business, not the caller's.
_DROPPED_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


class DynamoDBFaults:
    def __init__(self, target_url: str, rate: float, rng: random.Random) -> None:
        self.target_url = target_url
        self.rate = rate
        self.rng = rng
        self.stats: Counter[str] = Counter()
        self.session: ClientSession | None = None
        self.app = web.Application(client_max_size=16 * 1024 * 1024)
        self.app.router.add_post("/", self.forward)
        self.app.on_cleanup.append(self._close)

    async def forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("X-Amz-Target", "").startswith("DynamoDB_") and self.rng.random() < self.rate:
            self.stats["throttled"] += 1
            return web.Response(status=400, text=THROTTLED, content_type="application/x-amz-json-1.0")
        self.stats["forwarded"] += 1
        if self.session is None:
            self.session = ClientSession()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROPPED_HEADERS}
        async with self.session.post(self.target_url, data=body, headers=headers) as upstream:
            payload = await upstream.read()
            kept = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROPPED_HEADERS}
            return web.Response(status=upstream.status, body=payload, headers=kept)

    async def _close(self, app: web.Application) -> None:
        if self.session is not None:
            await self.session.close()
