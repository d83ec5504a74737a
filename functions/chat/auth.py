"""HS256 JSON Web Tokens for the $connect authorizer (stdlib only: nothing extra to ship).

The issuer is ``dynamowave token`` locally, or any service holding the secret in production.
Only ``alg: HS256`` is accepted (never ``none``), signatures are compared in constant time, and
``exp``/``nbf``/``iss`` are enforced.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import time
from typing import Any

from chat import clients
from chat.config import settings

LEEWAY_SECONDS = 30
MAX_TOKEN_CHARS = 4096


class InvalidToken(Exception):
    pass


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(
    secret: bytes, subject: str, name: str, issuer: str, ttl_seconds: int = 3600, now: float | None = None
) -> str:
    now = int(time.time() if now is None else now)
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": subject, "name": name, "iss": issuer, "iat": now, "exp": now + ttl_seconds}
    signing_input = ".".join(_b64encode(json.dumps(p, separators=(",", ":")).encode()) for p in (header, claims))
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64encode(signature)}"


def verify(token: Any, secret: bytes, issuer: str, now: float | None = None) -> dict[str, Any]:
    """Return the claims of a valid token, else raise ``InvalidToken``."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise InvalidToken("malformed token")
    header_b64, claims_b64, signature_b64 = token.split(".")
    try:
        header = json.loads(_b64decode(header_b64))
        claims = json.loads(_b64decode(claims_b64))
        signature = _b64decode(signature_b64)
    except ValueError:
        raise InvalidToken("malformed token") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise InvalidToken("unsupported algorithm")
    expected = hmac.new(secret, f"{header_b64}.{claims_b64}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise InvalidToken("bad signature")
    if not isinstance(claims, dict):
        raise InvalidToken("malformed claims")
    now = time.time() if now is None else now
    exp, nbf = claims.get("exp"), claims.get("nbf", 0)
    if not isinstance(exp, int | float) or now > exp + LEEWAY_SECONDS:
        raise InvalidToken("token expired")
    if not isinstance(nbf, int | float) or now + LEEWAY_SECONDS < nbf:
        raise InvalidToken("token not yet valid")
    if claims.get("iss") != issuer:
        raise InvalidToken("wrong issuer")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise InvalidToken("token has no subject")
    return claims


@functools.cache
def signing_secret() -> bytes:
    """The secret, read once per cold start: in clear locally, from SSM SecureString on AWS."""
    local = os.environ.get("AUTH_SECRET")
    if local:
        return local.encode()
    parameter = settings().auth_secret_parameter
    if not parameter:
        raise RuntimeError("AUTH_SECRET_PARAMETER is not set")
    value: str = clients.ssm().get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
    return value.encode()


def policy(principal: str, effect: str, resource: str, context: dict[str, str] | None = None) -> dict[str, Any]:
    """The authorizer's answer: an IAM policy for ``$connect``, and the context $connect receives."""
    result: dict[str, Any] = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if context:
        result["context"] = context
    return result


def unauthorized(err: Exception) -> Any:
    """The authorizer's answer when it fails: API Gateway answers 401 and refuses the upgrade."""
    raise Exception("Unauthorized") from err
