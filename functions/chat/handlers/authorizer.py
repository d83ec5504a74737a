"""REQUEST authorizer on $connect: verifies the ``token`` query parameter (HS256 JWT) and passes
the user's id and display name to $connect through the authorizer context."""

from __future__ import annotations

import functools
import os
from typing import Any

from chat import clients, log
from chat.auth import InvalidToken, verify
from chat.config import settings
from chat.protocol import sanitize_name
from chat.runtime import entrypoint


@functools.cache
def signing_secret() -> bytes:
    """The secret, read once per cold start: in clear locally, from SSM SecureString on AWS."""
    local = os.environ.get("AUTH_SECRET")
    if local:
        return local.encode()
    parameter = settings().auth_secret_parameter
    if not parameter:
        raise RuntimeError("AUTH_SECRET_PARAMETER is not set")
    value = clients.ssm().get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
    return value.encode()


def policy(principal: str, effect: str, resource: str, context: dict[str, str] | None = None) -> dict[str, Any]:
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


def _deny_on_error(err: Exception) -> Any:
    raise Exception("Unauthorized") from err  # API Gateway answers 401 and refuses the upgrade


@entrypoint(failure=_deny_on_error)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = (event.get("queryStringParameters") or {}).get("token")
    method_arn = event.get("methodArn", "*")
    try:
        claims = verify(token, signing_secret(), settings().auth_issuer)
    except InvalidToken as err:
        log.info("auth_denied", reason=str(err))
        return policy("anonymous", "Deny", method_arn)
    user_id = claims["sub"][:128]
    log.info("auth_allowed", userId=user_id)
    return policy(
        user_id, "Allow", method_arn, {"userId": user_id, "name": sanitize_name(claims.get("name"), user_id[:32])}
    )
