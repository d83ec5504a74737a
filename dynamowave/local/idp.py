"""The local runtime's OpenID Connect issuer (``dynamowave dev --auth dev``).

A real issuer as far as the authorizer can tell: a discovery document, a JWKS, RS256 tokens with a
``kid``. The authorizer the runtime runs is the production code, so it validates these tokens
exactly as it would Cognito's. What makes it a development issuer: anyone who can reach the
runtime signs in as any name (no password), and the key lives in memory only (every start makes a
new one; tokens from an earlier run are refused).

Routes, under ``/idp`` on every region's port:

* ``GET  /idp/.well-known/openid-configuration`` and ``GET /idp/jwks.json``
* ``POST /idp/token`` ``{"name": "alice", "ttl"?: seconds, "subject"?: "..."}`` -> ``{"token", "expiresAt"}``
  (what the page's sign-in and ``dynamowave token`` call)
* ``POST /idp/rotate`` (loopback callers only): a new signing key; the JWKS keeps the old public
  key too, as real issuers do during a rotation. Tests use it to prove the authorizer's refresh.
* ``POST /idp/sign`` (loopback callers only): signs arbitrary claims with the current key, so the
  tests can present expired, future, wrong-audience and over-long tokens the issuer really signed.
"""

from __future__ import annotations

import ipaddress
import json
import re
import threading
import time
import uuid
from collections import Counter
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

LOCAL_CLIENT_ID = "dynamowave-local"
DEFAULT_TTL_SECONDS = 3600
MAX_TTL_SECONDS = 7 * 24 * 3600  # longer than the authorizer's maximum: tests present over-long tokens
PATH = "/idp"
_NAME = re.compile(r"\S(.{0,30}\S)?")


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


class LocalIdP:
    """One issuer per runtime process; every region's gateway serves its routes."""

    def __init__(self, issuer: str, audience: str = LOCAL_CLIENT_ID) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._keys: dict[str, rsa.RSAPrivateKey] = {}
        self.kid = ""
        self.rotate()

    # ---- keys and tokens ---------------------------------------------------------------------

    def rotate(self) -> str:
        """A new signing key; the previous public keys stay published (the last three)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = f"local-{uuid.uuid4().hex[:12]}"
        with self._lock:
            self._keys[kid] = key
            while len(self._keys) > 3:
                self._keys.pop(next(iter(self._keys)))
            self.kid = kid
        return kid

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            keys = list(self._keys.items())
        out = []
        for kid, key in keys:
            entry = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            entry.update(kid=kid, use="sig", alg="RS256")
            out.append(entry)
        return {"keys": out}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/jwks.json",
            "token_endpoint": f"{self.issuer}/token",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        with self._lock:
            kid = kid or self.kid
            key = self._keys[kid]
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    def issue(self, name: str, ttl_seconds: int = DEFAULT_TTL_SECONDS, subject: str | None = None) -> dict[str, Any]:
        """A signed ID token for ``name`` (sub ``local:<name>`` unless a subject is given)."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject or f"local:{name}",
            "name": name,
            "iat": now,
            "exp": now + ttl_seconds,
        }
        self.stats["tokens_issued"] += 1
        return {"token": self.sign(claims), "expiresAt": claims["exp"], "issuer": self.issuer}

    # ---- HTTP --------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(f"{PATH}/.well-known/openid-configuration", self._discovery)
        app.router.add_get(f"{PATH}/jwks.json", self._jwks)
        app.router.add_post(f"{PATH}/token", self._token)
        app.router.add_post(f"{PATH}/rotate", self._rotate)
        app.router.add_post(f"{PATH}/sign", self._sign)

    async def _discovery(self, request: web.Request) -> web.Response:
        self.stats["discovery_fetches"] += 1
        return web.json_response(self.discovery())

    async def _jwks(self, request: web.Request) -> web.Response:
        self.stats["jwks_fetches"] += 1
        return web.json_response(self.jwks(), headers={"Cache-Control": "max-age=300"})

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise web.HTTPBadRequest(text="the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="the body must be a JSON object")
        return body

    async def _token(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        name, ttl, subject = body.get("name"), body.get("ttl", DEFAULT_TTL_SECONDS), body.get("subject")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            return web.json_response({"message": "name must be 1..32 characters, not blank at the ends"}, status=400)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or not 60 <= ttl <= MAX_TTL_SECONDS:
            return web.json_response({"message": f"ttl must be 60..{MAX_TTL_SECONDS} seconds"}, status=400)
        if subject is not None and (not isinstance(subject, str) or not 1 <= len(subject) <= 128):
            return web.json_response({"message": "subject must be 1..128 characters"}, status=400)
        return web.json_response(self.issue(name, ttl, subject), headers={"Cache-Control": "no-store"})

    async def _rotate(self, request: web.Request) -> web.Response:
        if not _is_loopback(request.remote):
            raise web.HTTPForbidden(text="key rotation is for loopback callers only")
        return web.json_response({"kid": self.rotate()})

    async def _sign(self, request: web.Request) -> web.Response:
        if not _is_loopback(request.remote):
            raise web.HTTPForbidden(text="signing arbitrary claims is for loopback callers only")
        body = await self._body(request)
        claims = body.get("claims")
        if not isinstance(claims, dict):
            return web.json_response({"message": "claims must be a JSON object"}, status=400)
        return web.json_response({"token": self.sign(claims), "kid": self.kid}, headers={"Cache-Control": "no-store"})
