"""`BearerAuth`: `Authorization: Bearer <token>` against tokens from config and environment."""

from __future__ import annotations

import hmac

from churnops.serving.config import AuthConfig


class BearerAuth:
    """Checks bearer tokens in constant time; holds them as bytes and never prints them."""

    def __init__(self, tokens: list[str], enabled: bool = True):
        self.enabled = enabled
        self._tokens = [t.encode() for t in tokens]
        if enabled and not self._tokens:
            raise ValueError(
                "auth.enabled=true but no tokens: set auth.tokens or the auth.tokens_env variable"
            )

    @classmethod
    def from_config(cls, cfg: AuthConfig) -> BearerAuth:
        return cls(cfg.all_tokens() if cfg.enabled else [], cfg.enabled)

    def __repr__(self) -> str:
        return f"BearerAuth(enabled={self.enabled}, tokens=<{len(self._tokens)} hidden>)"

    def allows(self, authorization: str | None) -> bool:
        """Whether an `Authorization` header value carries a valid token."""
        if not self.enabled:
            return True
        if not authorization:
            return False
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        given = token.strip().encode()
        ok = False
        for t in self._tokens:  # no early exit: timing says nothing about which token matched
            ok |= hmac.compare_digest(given, t)
        return ok
