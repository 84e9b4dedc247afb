"""Bearer tokens (HS256 JWT) naming a principal: subject, role and, for clerks, their unit.

The signing secret comes from configuration. Tokens carry an expiry; a token for the internal
`system` role is refused, so no caller can act as the service itself.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from entrypoints.settings import Settings
from schemas.api.auth import Principal, Role

TOKEN_ALGORITHM = "HS256"
TOKEN_ISSUER = "province-fees"

bearer = HTTPBearer(auto_error=False, description="A token from `fees token ROLE SUBJECT`")


class TokenService:
    @classmethod
    def from_settings(cls, settings: Settings) -> "TokenService":
        ttl = timedelta(seconds=settings.auth_token_ttl_s)
        return cls(settings.auth_token_secret.get_secret_value(), ttl)

    def __init__(self, secret: str, ttl: timedelta) -> None:
        if len(secret) < 32:
            raise ValueError("the token secret must be at least 32 characters")
        self._secret = secret
        self._ttl = ttl

    def issue(self, principal: Principal, now: datetime) -> str:
        claims = {
            "iss": TOKEN_ISSUER,
            "sub": principal.subject,
            "role": principal.role.value,
            "unit": principal.unit_code,
            "iat": int(now.timestamp()),
            "exp": int((now + self._ttl).timestamp()),
        }
        return jwt.encode(claims, self._secret, algorithm=TOKEN_ALGORITHM)

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; ValueError saying why otherwise."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[TOKEN_ALGORITHM],
                issuer=TOKEN_ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
            principal = Principal(
                subject=claims["sub"], role=Role(claims["role"]), unit_code=claims.get("unit")
            )
        except (jwt.PyJWTError, KeyError, ValueError, ValidationError) as error:
            raise ValueError(f"invalid token: {error}") from error
        if principal.role == Role.SYSTEM:
            raise ValueError("invalid token: the system role cannot be claimed")
        if principal.role == Role.CLERK and not principal.unit_code:
            raise ValueError("invalid token: a clerk token must name the clerk's unit")
        return principal


Authenticate = Callable[..., Awaitable[Principal]]


def authenticator(tokens: TokenService) -> Authenticate:
    """A FastAPI dependency: the caller's principal, or 401."""

    async def authenticate(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        if credentials is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            return tokens.verify(credentials.credentials)
        except ValueError as error:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, str(error), headers={"WWW-Authenticate": "Bearer"}
            ) from error

    return authenticate
