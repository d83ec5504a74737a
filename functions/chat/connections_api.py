"""A lean client for the one @connections call delivery makes: ``PostToConnection``.

Why not botocore's ``apigatewaymanagementapi`` client: its per-call pipeline (parameter
validation, event hooks, endpoint resolution, response parsing) costs about 1 ms of CPU per post,
which is the whole budget of a fan-out to a large room. This client keeps only what a post needs:

- HTTP/1.1 over a small pool of persistent keep-alive sockets (stdlib ``socket``/``ssl``; http and
  https endpoints, e.g. the local runtime's ``http://127.0.0.1:PORT/STAGE``). An idle socket the
  server has closed is noticed before reuse; a reused one that turns out dead is replaced once.
- SigV4 (service ``execute-api``) exactly as botocore's ``SigV4Auth`` signs the same request
  (same URL encoding, signed headers, payload hash; tests compare the bytes), with the derived
  signing key cached per (secret, date, region, service).
- Credentials from botocore's session (its usual provider chain; ``credentials_provider`` gives
  the process's shared session's), resolved at the first signed post and frozen per request, so
  rotated or refreshed credentials are picked up.
- Failures as botocore reports them: error responses parsed by botocore's own rest-json parser
  into ``ClientError`` subclasses named after the error code (``GoneException``,
  ``LimitExceededException``, ``ForbiddenException``, ``PayloadTooLargeException``; other codes
  raise ``ClientError``), network failures as botocore's ``EndpointConnectionError``,
  ``ConnectTimeoutError``, ``ReadTimeoutError``, ``ConnectionClosedError``, ``SSLError``. So
  ``chat.retry`` classifies them exactly as it classifies the SDK's, and error codes stay the same.
No retries here (``chat.retry`` owns them) and no proxy support (Lambda has none configured).

Transports: a runtime that hosts the handlers in its own process beside the @connections API
(``dynamowave dev``) registers an in-process transport for its endpoint URL
(``register_transport``). A post to that endpoint is then handed straight to the runtime's
connection table instead of being signed, sent over loopback, parsed and routed: it gets the same
answer the HTTP endpoint gives (status, ``x-amzn-ErrorType``, JSON body; faults and latency
injected the same way), parsed into the same exceptions here. Every other endpoint, and every
process without a registration (Lambda), posts signed HTTP.
"""

from __future__ import annotations

import hmac
import json
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from hashlib import sha256
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ReadTimeoutError,
    SSLError,
)
from botocore.utils import normalize_url_path

from chat.http11 import Connection, NoResponse, ProtocolError

SERVICE = "execute-api"  # the signing name of the @connections API
OPERATION = "PostToConnection"
EMPTY_SHA256 = sha256(b"").hexdigest()
USER_AGENT = "dynamowave-connections/1"
_DEFAULT_PORTS = {"http": 80, "https": 443}


# ---- errors: the classes botocore's client would raise (``client.exceptions.<Code>``) --------------


class GoneException(ClientError):
    """410: the connection is gone; never worth a retry."""


class ForbiddenException(ClientError):
    """403."""


class LimitExceededException(ClientError):
    """429: throttled."""


class PayloadTooLargeException(ClientError):
    """413: the frame is over the WebSocket message limit."""


_ERRORS: dict[str, type[ClientError]] = {
    cls.__name__: cls for cls in (GoneException, ForbiddenException, LimitExceededException, PayloadTooLargeException)
}


def error_class(code: str) -> type[ClientError]:
    """The class botocore's client raises for an error code: the modeled one, else ClientError."""
    return _ERRORS.get(code, ClientError)


class Exceptions:
    """``client.exceptions`` of botocore's client, for the errors the model defines."""

    ClientError = ClientError
    GoneException = GoneException
    ForbiddenException = ForbiddenException
    LimitExceededException = LimitExceededException
    PayloadTooLargeException = PayloadTooLargeException
    from_code = staticmethod(error_class)


def error_from_response(status: int, headers: dict[str, str], body: bytes) -> ClientError:
    """The exception botocore's client raises for this error response (its rest-json parser)."""
    from botocore.parsers import RestJSONParser

    response = {"status_code": status, "headers": headers, "body": body}
    parsed = RestJSONParser().parse(response, None)  # type: ignore[arg-type]  # no shape: an error
    code = str(parsed.get("Error", {}).get("Code") or "")
    # botocore adds the members of the modeled error's shape: of this API's errors only
    # PayloadTooLargeException has one, Message (from the body's "message").
    if code == "PayloadTooLargeException" and body:
        try:
            message = json.loads(body).get("message")
        except (ValueError, AttributeError):
            message = None
        if message is not None:
            parsed["Message"] = message
    parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
    return error_class(code)(parsed, OPERATION)


# ---- in-process transports -------------------------------------------------------------------------

# (connection id, body) -> (status, lowercase headers, response body), as the HTTP endpoint answers.
# Raises botocore's network errors (EndpointConnectionError, ReadTimeoutError, ...) for failures
# that are not an HTTP answer.
Transport = Callable[[str, bytes], tuple[int, dict[str, str], bytes]]
_transports: dict[str, Transport] = {}


def _endpoint_key(endpoint_url: str) -> str:
    return endpoint_url.rstrip("/")


def register_transport(endpoint_url: str, transport: Transport) -> None:
    """Posts to ``endpoint_url`` (from any client of this process) go through ``transport``."""
    _transports[_endpoint_key(endpoint_url)] = transport


def unregister_transport(endpoint_url: str, transport: Transport | None = None) -> None:
    """Back to HTTP for ``endpoint_url`` (only if ``transport`` is still the registered one)."""
    key = _endpoint_key(endpoint_url)
    if transport is None or _transports.get(key) is transport:
        _transports.pop(key, None)


def transport_for(endpoint_url: str) -> Transport | None:
    return _transports.get(_endpoint_key(endpoint_url))


# ---- SigV4 -----------------------------------------------------------------------------------------


def connection_path(base_path: str, connection_id: str) -> str:
    """The request path, encoded as botocore's rest serializer encodes ``/@connections/{ConnectionId}``
    (``=``, ``+``, ``/`` and every other reserved character percent-encoded) and joins it to the
    endpoint's path."""
    return f"{base_path}/@connections/{quote(connection_id, safe='-._~')}"


def canonical_uri(path: str) -> str:
    """The path as SigV4Auth puts it in the canonical request (normalised, then encoded again)."""
    return quote(normalize_url_path(path), safe="/~")


def host_header(url: str) -> str:
    """botocore's ``_host_from_url``: lowercase host, IPv6 in brackets, port unless the default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


class Signer:
    """AWS Signature Version 4 for one region and service, as ``botocore.auth.SigV4Auth`` signs a
    request with no query and only ``host``, ``x-amz-date`` (and the session token) to sign."""

    def __init__(self, region: str, service: str = SERVICE) -> None:
        self.region = region
        self.service = service
        self._key: tuple[str, str, bytes] = ("", "", b"")  # (secret key, yyyymmdd, signing key)
        self._stamp: tuple[int, str] = (-1, "")  # (epoch second, its SigV4 timestamp)

    def signing_key(self, secret_key: str, date: str) -> bytes:
        cached = self._key
        if cached[0] == secret_key and cached[1] == date and cached[2]:
            return cached[2]
        key = f"AWS4{secret_key}".encode()
        for part in (date, self.region, self.service, "aws4_request"):
            key = hmac.new(key, part.encode(), sha256).digest()
        self._key = (secret_key, date, key)
        return key

    def timestamp(self, now: float) -> str:
        second = int(now)
        cached = self._stamp
        if cached[0] != second:
            cached = (second, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second)))
            self._stamp = cached
        return cached[1]

    def headers(
        self, method: str, host: str, uri: str, body: bytes, credentials: Any, now: float
    ) -> list[tuple[str, str]]:
        """The headers to add: ``X-Amz-Date``, ``X-Amz-Security-Token`` when there is a session
        token, ``Authorization``. ``uri`` is the canonical URI (``canonical_uri``)."""
        amz_date = self.timestamp(now)
        date = amz_date[:8]
        token = credentials.token
        added = [("X-Amz-Date", amz_date)]
        if token:
            added.append(("X-Amz-Security-Token", token))
            canonical_headers = f"host:{host}\nx-amz-date:{amz_date}\nx-amz-security-token:{' '.join(token.split())}\n"
            signed = "host;x-amz-date;x-amz-security-token"
        else:
            canonical_headers = f"host:{host}\nx-amz-date:{amz_date}\n"
            signed = "host;x-amz-date"
        payload_hash = sha256(body).hexdigest() if body else EMPTY_SHA256
        canonical = f"{method}\n{uri}\n\n{canonical_headers}\n{signed}\n{payload_hash}"
        scope = f"{date}/{self.region}/{self.service}/aws4_request"
        string_to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self.signing_key(credentials.secret_key, date), string_to_sign.encode(), sha256)
        added.append(
            (
                "Authorization",
                f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
                f"SignedHeaders={signed}, Signature={signature.hexdigest()}",
            )
        )
        return added


class ConnectionsApi:
    """``post_to_connection`` of one @connections endpoint (``https://{api}.execute-api.{region}
    .amazonaws.com/{stage}`` or a custom one such as ``http://127.0.0.1:8000/dev``). Thread-safe:
    concurrent posts each take their own socket from the pool."""

    exceptions = Exceptions

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        *,
        credentials: Any = None,
        credentials_provider: Callable[[], Any] | None = None,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        max_idle: int = 128,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(endpoint_url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"not an http(s) endpoint: {endpoint_url!r}")
        self.endpoint_url = endpoint_url
        self.region = region
        self.https = parts.scheme == "https"
        self._address = (parts.hostname, parts.port or _DEFAULT_PORTS[parts.scheme])
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._base_path = parts.path[:-1] if parts.path.endswith("/") else parts.path
        self.host = host_header(endpoint_url)
        self.signer = Signer(region)
        self._credentials = credentials
        self._credentials_provider = credentials_provider
        self._credentials_lock = threading.Lock()
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_idle = max_idle
        self.clock = clock
        self._idle: deque[Connection] = deque()
        self._ssl: ssl.SSLContext | None = None
        self._key = _endpoint_key(endpoint_url)

    # ---- the operation -------------------------------------------------------------------------

    def post_to_connection(
        self, *, ConnectionId: str, Data: bytes | str
    ) -> dict[str, Any]:  # botocore's parameter names
        body = Data.encode() if isinstance(Data, str) else Data
        # Looked up per post: the runtime registers its transport when it starts serving, which
        # may be after this client was created (and unregisters it when it stops).
        transport = _transports.get(self._key)
        if transport is not None:
            status, headers, response_body = transport(ConnectionId, body)
        else:
            request, url = self.signed_request(ConnectionId, body)
            status, headers, response_body = self._send(request, url)
        if status >= 300:
            raise error_from_response(status, headers, response_body)
        return {
            "ResponseMetadata": {
                "RequestId": headers.get("x-amzn-requestid", ""),
                "HTTPStatusCode": status,
                "HTTPHeaders": headers,
                "RetryAttempts": 0,
            }
        }

    def signed_request(self, connection_id: str, body: bytes) -> tuple[bytes, str]:
        """The request's bytes on the wire, and its URL."""
        path = connection_path(self._base_path, connection_id)
        signed = self.signer.headers(
            "POST", self.host, canonical_uri(path), body, self.frozen_credentials(), self.clock()
        )
        head = "".join(f"{name}: {value}\r\n" for name, value in signed)
        return (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: {USER_AGENT}\r\n"
            f"Accept-Encoding: identity\r\n{head}Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body, self._origin + path

    def frozen_credentials(self) -> Any:
        """The current credentials (read per request: rotated ones are picked up; refreshable ones
        refresh themselves)."""
        credentials = self._credentials
        if credentials is None:
            with self._credentials_lock:
                if self._credentials is None:
                    if self._credentials_provider is not None:
                        self._credentials = self._credentials_provider()
                    else:
                        import botocore.session

                        self._credentials = botocore.session.get_session().get_credentials()
                    if self._credentials is None:
                        raise NoCredentialsError()
                credentials = self._credentials
        return credentials.get_frozen_credentials()

    def concurrency(self, default: int) -> int:
        """How many posts to keep in flight: ``default``, unless this endpoint's transport says
        fewer are enough (an in-process one without injected latency answers within one turn of
        its event loop: more threads would only contend for the interpreter)."""
        hint = getattr(_transports.get(self._key), "concurrency", None)
        return min(default, hint) if isinstance(hint, int) and hint > 0 else default

    # ---- the connection pool ---------------------------------------------------------------------

    def _send(self, request: bytes, url: str) -> tuple[int, dict[str, str], bytes]:
        while True:
            conn, reused = self._acquire(url)
            try:
                status, headers, body, reusable = conn.exchange(request)
            except TimeoutError as err:
                conn.close()
                raise ReadTimeoutError(endpoint_url=url, error=err) from err
            except ssl.SSLError as err:
                conn.close()
                raise SSLError(endpoint_url=url, error=err) from err
            except (NoResponse, ConnectionResetError, BrokenPipeError) as err:
                conn.close()
                if reused:  # a keep-alive socket the server had dropped: once more on a new one
                    continue
                raise ConnectionClosedError(endpoint_url=url, error=err) from err
            except (OSError, ProtocolError, ValueError) as err:
                conn.close()
                raise ConnectionClosedError(endpoint_url=url, error=err) from err
            except BaseException as err:
                conn.close()
                raise HTTPClientError(error=err) from err
            if reusable and len(self._idle) < self.max_idle:
                self._idle.append(conn)
            else:
                conn.close()
            return status, headers, body

    def _acquire(self, url: str) -> tuple[Connection, bool]:
        while True:
            try:
                conn = self._idle.pop()  # the most recently used: the likeliest to be alive
            except IndexError:
                return self._connect(url), False
            if conn.idle_ok():
                return conn, True
            conn.close()

    def _connect(self, url: str) -> Connection:
        try:
            sock = socket.create_connection(self._address, timeout=self.connect_timeout)
        except TimeoutError as err:
            raise ConnectTimeoutError(endpoint_url=url, error=err) from err
        except OSError as err:
            raise EndpointConnectionError(endpoint_url=url, error=err) from err
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.https:
                sock = self._ssl_context().wrap_socket(sock, server_hostname=self._address[0])
            sock.settimeout(self.read_timeout)
        except TimeoutError as err:
            sock.close()
            raise ConnectTimeoutError(endpoint_url=url, error=err) from err
        except ssl.SSLError as err:
            sock.close()
            raise SSLError(endpoint_url=url, error=err) from err
        except OSError as err:
            sock.close()
            raise EndpointConnectionError(endpoint_url=url, error=err) from err
        return Connection(sock)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            # The CA bundle botocore would use (AWS_CA_BUNDLE, else certifi's or botocore's own).
            import os

            from botocore.httpsession import get_cert_path

            self._ssl = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True))
        return self._ssl

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
