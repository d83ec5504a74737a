"""REQUEST authorizer on $connect: checks the browser's ``Origin`` and the ``token`` query
parameter (an OIDC JWT from the configured issuer), then passes the user's id (``sub``) and display
name (the ``AUTH_NAME_CLAIM`` claim) to $connect through the authorizer context.

A refusal raises ``Unauthorized``: API Gateway answers 401 and never opens the socket. The reason
is logged (never the token) and counted as ``AuthRejections``.
"""

from __future__ import annotations

from typing import Any

from chat import log, metrics
from chat.auth import InvalidToken, check_origin, policy, verifier
from chat.config import settings
from chat.events import header_of, query_of
from chat.protocol import sanitize_name
from chat.runtime import entrypoint


class Unauthorized(Exception):
    """API Gateway maps exactly this message from a REQUEST authorizer to HTTP 401."""


def _refuse(err: Exception) -> Any:
    metrics.count("AuthRejections")  # fail closed: an authorizer that breaks refuses the connection
    raise Unauthorized("Unauthorized") from err


@entrypoint(failure=_refuse)
def _authorize(event: dict[str, Any], context: Any) -> dict[str, Any] | None:
    config = settings()
    try:
        check_origin(header_of(event, "Origin"), config.allowed_origins)
        claims = verifier().verify(query_of(event).get("token"))
    except InvalidToken as err:
        metrics.count("AuthRejections")
        log.info("auth_denied", reason=str(err), requestId=(event.get("requestContext") or {}).get("requestId"))
        return None
    user_id: str = claims["sub"]
    name = sanitize_name(claims.get(config.auth_name_claim), user_id[:32])
    log.info("auth_allowed", userId=user_id)
    return policy(user_id, "Allow", event.get("methodArn", "*"), {"userId": user_id, "name": name})


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = _authorize(event, context)
    if result is None:
        raise Unauthorized("Unauthorized")
    return result
