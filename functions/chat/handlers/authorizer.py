"""REQUEST authorizer on $connect: verifies the ``token`` query parameter (HS256 JWT) and passes
the user's id and display name to $connect through the authorizer context."""

from __future__ import annotations

from typing import Any

from chat import log
from chat.auth import InvalidToken, policy, signing_secret, unauthorized, verify
from chat.config import settings
from chat.events import query_of
from chat.protocol import sanitize_name
from chat.runtime import entrypoint


@entrypoint(failure=unauthorized)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    method_arn = event.get("methodArn", "*")
    try:
        claims = verify(query_of(event).get("token"), signing_secret(), settings().auth_issuer)
    except InvalidToken as err:
        log.info("auth_denied", reason=str(err))
        return policy("anonymous", "Deny", method_arn)
    user_id = claims["sub"][:128]
    log.info("auth_allowed", userId=user_id)
    return policy(
        user_id, "Allow", method_arn, {"userId": user_id, "name": sanitize_name(claims.get("name"), user_id[:32])}
    )
