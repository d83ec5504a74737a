"""chat.connections_api: the lean @connections client signs, encodes and fails exactly as botocore's
apigatewaymanagementapi client does, and reuses its sockets."""

from __future__ import annotations

import datetime
import socket
import threading
import time
from collections.abc import Iterator
from unittest import mock

import boto3
import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, EndpointConnectionError

from chat import retry
from chat.connections_api import ConnectionsApi, Signer, canonical_uri, connection_path, host_header

FROZEN = datetime.datetime(2026, 3, 14, 15, 9, 26)
FROZEN_EPOCH = FROZEN.replace(tzinfo=datetime.UTC).timestamp()
IDS = ["abc123=", "Zx+y/Az09=", "a=b+c/d~e.f_g-h i", "ünïcödé/€", "..", "plain"]
ENDPOINTS = [
    "https://abc123.execute-api.eu-west-1.amazonaws.com/dev",
    "http://127.0.0.1:8765/dev",
    "http://localhost:80/prod/",
    "https://Example.COM:8443/stage",
]
BODY = b'{"type":"message","room":"lobby","text":"h\\u00e9llo"}'


@pytest.fixture
def frozen_botocore() -> Iterator[None]:
    """Freeze the time botocore's SigV4Auth signs with, as botocore's own signer tests do."""
    if hasattr(botocore.auth, "get_current_datetime"):  # botocore >= 1.33
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=FROZEN):
            yield
    else:  # older botocore reads datetime.datetime.utcnow through botocore.auth.datetime
        with mock.patch.object(botocore.auth, "datetime") as patched:
            patched.datetime.utcnow.return_value = FROZEN
            patched.datetime.strptime = datetime.datetime.strptime
            yield


def _credentials(token: str | None) -> Credentials:
    return Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)


@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzE  session//token=="])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("connection_id", IDS)
def test_signed_request_is_what_sigv4auth_signs(frozen_botocore, endpoint, connection_id, token) -> None:
    api = ConnectionsApi(endpoint, "eu-west-1", credentials=_credentials(token), clock=lambda: FROZEN_EPOCH)
    wire, url = api.signed_request(connection_id, BODY)

    request = AWSRequest(method="POST", url=url, data=BODY)
    SigV4Auth(_credentials(token), "execute-api", "eu-west-1").add_auth(request)

    head, _, body = wire.partition(b"\r\n\r\n")
    request_line, *lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    method, path, version = request_line.split(" ")
    assert (method, api._origin + path, version, body) == ("POST", request.url, "HTTP/1.1", request.body)
    signed = {
        name: headers[name] for name in ("X-Amz-Date", "Authorization", "X-Amz-Security-Token") if name in headers
    }
    assert signed == dict(request.headers)  # Authorization, X-Amz-Date (and the token): the same bytes
    assert headers["Host"] == host_header(url) and headers["Content-Length"] == str(len(BODY))


@pytest.mark.parametrize("endpoint", ENDPOINTS[:2])
@pytest.mark.parametrize("connection_id", IDS)
def test_the_same_request_botocores_client_sends(frozen_botocore, endpoint, connection_id) -> None:
    """URL (the connection id's encoding), signed headers, signature and body equal what the
    apigatewaymanagementapi client puts on the wire for the same call at the same time."""
    sent: list[AWSRequest] = []

    def capture(request: AWSRequest, **_: object) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, {}, mock.Mock(stream=lambda **kw: iter([b""])))

    session = boto3.session.Session(aws_access_key_id="AK", aws_secret_access_key="SK", aws_session_token="TOK")
    client = session.client("apigatewaymanagementapi", region_name="eu-west-1", endpoint_url=endpoint)
    client.meta.events.register("before-send", capture)
    client.post_to_connection(ConnectionId=connection_id, Data=BODY)
    (theirs,) = sent

    api = ConnectionsApi(endpoint, "eu-west-1", credentials=Credentials("AK", "SK", "TOK"), clock=lambda: FROZEN_EPOCH)
    wire, url = api.signed_request(connection_id, BODY)
    head, _, body = wire.partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    assert url == theirs.url and body == theirs.body
    for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
        assert headers[name].encode() == theirs.headers[name], name


def test_signing_key_is_cached_per_date_and_secret() -> None:
    signer = Signer("eu-west-1")
    key = signer.signing_key("secret", "20260314")
    assert signer.signing_key("secret", "20260314") is key
    assert signer.signing_key("secret", "20260315") != key
    assert signer.signing_key("rotated", "20260315") != signer.signing_key("secret", "20260315")


def test_paths() -> None:
    assert connection_path("/dev", "a=b+c/d") == "/dev/@connections/a%3Db%2Bc%2Fd"
    assert canonical_uri("/dev/@connections/a%3Db") == "/dev/%40connections/a%253Db"


# ---- against a real socket: status codes and failures, compared with botocore's client ------------


class Stub:
    """A tiny HTTP/1.1 server on loopback answering every request with ``self.reply`` (bytes);
    records requests and the number of TCP connections it accepted. A request whose body is
    ``bye`` is answered, then its socket closed."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.reply = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        self.requests: list[bytes] = []
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/dev"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        data = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                lines = head.lower().split(b"\r\n")
                length = int(next(line.split(b":")[1] for line in lines if line.startswith(b"content-length")))
                while len(data) < length:
                    data += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + data[:length])
                data = data[length:]
                conn.sendall(self.reply)
                if self.requests[-1].endswith(b"\r\n\r\nbye"):  # the server ends this keep-alive socket
                    return

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    yield server
    server.close()


def _reply(status: str, headers: dict[str, str], body: bytes) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Content-Length": str(len(body))}.items())
    return f"HTTP/1.1 {status}\r\n{head}\r\n".encode() + body


ERRORS = [
    ("410 Gone", {"x-amzn-ErrorType": "GoneException"}, b'{"message":null}'),
    ("410 Gone", {"Content-Type": "application/json"}, b'{"message":"Gone"}'),  # no type: code "410", as botocore
    ("429 Too Many Requests", {"x-amzn-ErrorType": "LimitExceededException:http://internal"}, b"{}"),
    ("403 Forbidden", {"x-amzn-ErrorType": "ForbiddenException"}, b'{"message":"Forbidden"}'),
    ("413 Payload Too Large", {"x-amzn-ErrorType": "PayloadTooLargeException"}, b'{"message":"too long"}'),
    ("400 Bad Request", {}, b'{"code":"BadRequestException","message":"Invalid connectionId"}'),
    ("500 Internal Server Error", {"x-amzn-ErrorType": "InternalServerErrorException"}, b'{"message":"x"}'),
    ("502 Bad Gateway", {}, b""),
    ("503 Service Unavailable", {}, b"<html><body>down</body></html>"),
    ("401 Unauthorized", {"x-amzn-RequestId": "r-1"}, b"not json"),
]


@pytest.mark.parametrize(("status", "headers", "body"), ERRORS)
def test_errors_are_the_ones_botocore_raises(stub: Stub, status, headers, body) -> None:
    stub.reply = _reply(status, headers, body)
    boto = boto3.session.Session(aws_access_key_id="AK", aws_secret_access_key="SK").client(
        "apigatewaymanagementapi",
        region_name="eu-west-1",
        endpoint_url=stub.endpoint,
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as theirs:
        boto.post_to_connection(ConnectionId="c1", Data=b"x")
    api = ConnectionsApi(stub.endpoint, "eu-west-1", credentials=Credentials("AK", "SK"))
    with pytest.raises(ClientError) as ours:
        api.post_to_connection(ConnectionId="c1", Data=b"x")

    assert type(ours.value).__name__ == type(theirs.value).__name__
    assert ours.value.response["Error"] == theirs.value.response["Error"]
    assert ours.value.response.get("Message") == theirs.value.response.get("Message")
    for key in ("HTTPStatusCode", "RetryAttempts", "RequestId"):
        assert ours.value.response["ResponseMetadata"].get(key) == theirs.value.response["ResponseMetadata"].get(key)
    assert retry.is_transient(ours.value) == retry.is_transient(theirs.value)
    assert retry.error_code(ours.value) == retry.error_code(theirs.value)
    gone = theirs.value.response["Error"]["Code"] == "GoneException"  # API Gateway's 410s say so
    assert isinstance(ours.value, api.exceptions.GoneException) == gone


def test_keep_alive_one_socket_for_many_posts_and_a_dropped_one_is_replaced(stub: Stub) -> None:
    api = ConnectionsApi(stub.endpoint, "eu-west-1", credentials=Credentials("AK", "SK"))
    for n in range(5):
        assert api.post_to_connection(ConnectionId=f"c{n}", Data=b"x")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert stub.accepted == 1 and len(stub.requests) == 5
    api.post_to_connection(ConnectionId="c5", Data=b"bye")  # the server drops the socket after this one
    time.sleep(0.05)
    api.post_to_connection(ConnectionId="c6", Data=b"x")  # noticed before reuse: a new socket
    assert stub.accepted == 2 and len(stub.requests) == 7


def test_chunked_and_interim_responses(stub: Stub) -> None:
    stub.reply = (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    api = ConnectionsApi(stub.endpoint, "eu-west-1", credentials=Credentials("AK", "SK"))
    api.post_to_connection(ConnectionId="c1", Data=b"x")
    api.post_to_connection(ConnectionId="c2", Data=b"x")
    assert stub.accepted == 1


def test_connection_refused_is_endpoint_connection_error_and_transient() -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    api = ConnectionsApi(f"http://127.0.0.1:{port}/dev", "eu-west-1", credentials=Credentials("AK", "SK"))
    with pytest.raises(EndpointConnectionError) as err:
        api.post_to_connection(ConnectionId="c1", Data=b"x")
    assert retry.is_transient(err.value) and retry.error_code(err.value) == "EndpointConnectionError"


def test_credentials_come_from_botocores_chain_and_rotation_is_seen(monkeypatch, stub: Stub) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKFIRST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s1")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    api = ConnectionsApi(stub.endpoint, "eu-west-1")
    api.post_to_connection(ConnectionId="c1", Data=b"x")
    assert b"Credential=AKFIRST/" in stub.requests[-1]
    creds = api._credentials
    creds.access_key, creds.secret_key, creds.token = "AKSECOND", "s2", "tok"  # what a refresh does
    api.post_to_connection(ConnectionId="c2", Data=b"x")
    assert b"Credential=AKSECOND/" in stub.requests[-1] and b"X-Amz-Security-Token: tok" in stub.requests[-1]


def test_delivery_classifies_the_real_clients_errors(monkeypatch, stub: Stub) -> None:
    """Delivery over the real client: 410 gone (one attempt), 403 failed with its code."""
    from chat import clients
    from chat.delivery import Delivery

    clients.reset()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AK")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "SK")
    delivery = Delivery("eu-west-1", stub.endpoint)
    stub.reply = _reply("410 Gone", {"x-amzn-ErrorType": "GoneException"}, b"{}")
    assert delivery.post("c1", b"x", time.monotonic() + 2) == delivery.post("c1", b"x", time.monotonic() + 2)
    gone = delivery.post("c1", b"x", time.monotonic() + 2)
    assert (gone.status, gone.attempts, gone.error) == ("gone", 1, None)
    stub.reply = _reply("403 Forbidden", {"x-amzn-ErrorType": "ForbiddenException"}, b"{}")
    report = delivery.broadcast([f"c{n}" for n in range(20)], {"type": "x"}, time.monotonic() + 2)
    assert report.counts() == {"delivered": 0, "gone": 0, "failed": 20}
    assert [o.connection_id for o in report.undelivered] == [f"c{n}" for n in range(20)]
    assert {(o.error, o.attempts) for o in report.undelivered} == {("ForbiddenException", 1)}
    stub.reply = _reply("200 OK", {}, b"")
    assert delivery.broadcast(["a", "b", "c"], {"type": "x"}, time.monotonic() + 2).counts()["delivered"] == 3
    clients.reset()
