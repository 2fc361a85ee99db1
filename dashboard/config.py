"""The ``dashboard`` section of the configuration (owned by the dashboard package).

```yaml
dashboard:
  auth:                                   # optional: OIDC sign-in through st.login
    server_metadata_url: https://accounts.example.com/.well-known/openid-configuration
    client_id: headroom
    client_secret_file: /run/secrets/oidc_client_secret
    cookie_secret_file: /run/secrets/cookie_secret     # at least 32 bytes: openssl rand -hex 32
    redirect_uri: https://headroom.example.com/oauth2callback
    allowed_domains: [example.com]        # who may see the dashboard (and/or allowed_emails)
  admins: [alice@example.com]             # who may create and expire silences (verified e-mail only)
  read_only: true                         # without auth: true (default) hides every write action
  refresh_seconds: 60                     # auto-refresh period and cache TTL of live data
```
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from headroom_core.configtypes import Secret, StrictModel

COOKIE_SECRET_MIN_BYTES = 32


def _read_secret_file(path: Path, field: str) -> Secret:
    try:
        return Secret(path.read_text(encoding="utf-8").strip())
    except OSError as exc:
        raise ValueError(f"{field}: cannot read {path}: {exc.strerror}") from None


class AuthConfig(StrictModel):
    """OpenID Connect settings handed to Streamlit's ``st.login``."""

    server_metadata_url: str = Field(pattern=r"^https?://")
    client_id: str = Field(min_length=1)
    client_secret: Secret | None = None
    client_secret_file: Path | None = None
    cookie_secret: Secret | None = None
    cookie_secret_file: Path | None = None
    redirect_uri: str = Field(pattern=r"^https?://")
    allowed_domains: list[str] = Field(
        default_factory=list, description="E-mail domains whose signed-in users may see the dashboard."
    )
    allowed_emails: list[str] = Field(
        default_factory=list,
        description="E-mail addresses that may see the dashboard (besides allowed_domains).",
    )
    require_verified_email: bool = Field(
        default=True, description="Viewers need the provider's email_verified claim (admins always need it)."
    )

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        out = [d.strip().lower().removeprefix("@") for d in v]
        for domain in out:
            if not domain or "@" in domain or "." not in domain:
                raise ValueError(f"{domain!r} is not an e-mail domain (like example.com)")
        return out

    @field_validator("allowed_emails")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        out = [e.strip().lower() for e in v]
        for email in out:
            if email.count("@") != 1 or email.startswith("@") or email.endswith("@"):
                raise ValueError(f"{email!r} is not an e-mail address")
        return out

    @model_validator(mode="after")
    def _load_secret_files(self) -> AuthConfig:
        for name in ("client_secret", "cookie_secret"):
            path: Path | None = getattr(self, f"{name}_file")
            if path is not None and getattr(self, name) is None:
                object.__setattr__(self, name, _read_secret_file(path, f"{name}_file"))
            if getattr(self, name) is None:
                raise ValueError(f"{name} (or {name}_file) is required when dashboard.auth is set")
        assert self.cookie_secret is not None
        if len(self.cookie_secret.reveal().encode()) < COOKIE_SECRET_MIN_BYTES:
            field = "cookie_secret_file" if self.cookie_secret_file is not None else "cookie_secret"
            raise ValueError(
                f"{field}: the cookie secret must be at least {COOKIE_SECRET_MIN_BYTES} bytes "
                "(it signs the sign-in cookies; make one with `openssl rand -hex 32`)"
            )
        return self

    def streamlit_secrets(self) -> dict[str, Any]:
        """The ``[auth]`` table of a Streamlit secrets file (secrets revealed: write it 0600)."""
        assert self.client_secret is not None and self.cookie_secret is not None
        return {
            "auth": {
                "redirect_uri": self.redirect_uri,
                "cookie_secret": self.cookie_secret.reveal(),
                "client_id": self.client_id,
                "client_secret": self.client_secret.reveal(),
                "server_metadata_url": self.server_metadata_url,
            }
        }


class DashboardConfig(StrictModel):
    """Sign-in, write permissions and refresh period of the dashboard."""

    auth: AuthConfig | None = None
    admins: list[str] = Field(default_factory=list)
    read_only: bool = True
    refresh_seconds: int = Field(default=60, ge=5, le=3600)

    @model_validator(mode="after")
    def _someone_may_see(self) -> DashboardConfig:
        if self.auth is not None and not (
            self.auth.allowed_domains or self.auth.allowed_emails or self.admins
        ):
            raise ValueError(
                "auth: say who may see the dashboard: set auth.allowed_domains and/or "
                "auth.allowed_emails (signing in alone does not authorise anyone)"
            )
        return self

    def can_write(self, user_email: str | None, email_verified: object = None) -> bool:
        return self.policy().can_write(user_email, email_verified)

    def policy(self) -> ViewerPolicy:
        """What the running app needs to know (no secret): handed to it in ``HEADROOM_DASHBOARD``."""
        auth = self.auth
        return ViewerPolicy(
            auth_enabled=auth is not None,
            admins=tuple(a.lower() for a in self.admins),
            read_only=self.read_only,
            refresh_seconds=self.refresh_seconds,
            allowed_domains=tuple(auth.allowed_domains) if auth else (),
            allowed_emails=tuple(auth.allowed_emails) if auth else (),
            require_verified_email=auth.require_verified_email if auth else True,
        )


def verified(claim: object) -> bool:
    """The ``email_verified`` claim as the providers send it: ``true``, or the string ``"true"``."""
    return claim is True or (isinstance(claim, str) and claim.strip().lower() == "true")


@dataclass(frozen=True, slots=True)
class ViewerPolicy:
    """Sign-in and write permissions as the running dashboard applies them."""

    auth_enabled: bool = False
    admins: tuple[str, ...] = ()
    read_only: bool = True
    refresh_seconds: int = 60
    allowed_domains: tuple[str, ...] = ()
    allowed_emails: tuple[str, ...] = ()
    require_verified_email: bool = True

    def refusal(self, user_email: str | None, email_verified: object = None) -> str | None:
        """Why this signed-in viewer may not see the dashboard (None: they may). Without sign-in, nobody
        is refused (the dashboard is then for whoever reaches its address)."""
        if not self.auth_enabled:
            return None
        if not user_email:
            return "your identity provider did not say which e-mail address you signed in with"
        if self.require_verified_email and not verified(email_verified):
            return (
                "your identity provider does not vouch for your e-mail address (email_verified is not true)"
            )
        email = user_email.strip().lower()
        if (
            email in self.allowed_emails
            or email in self.admins
            or email.rpartition("@")[2] in self.allowed_domains
        ):
            return None
        return "your account is not among the users allowed on this dashboard"

    def can_write(self, user_email: str | None, email_verified: object = None) -> bool:
        """Whether this viewer may create or expire silences.

        With sign-in, only signed-in users listed in ``admins`` whose e-mail the provider verified may;
        without sign-in, nobody may unless ``read_only: false`` opens the dashboard to every viewer.
        """
        if self.auth_enabled:
            return (
                user_email is not None
                and verified(email_verified)
                and user_email.strip().lower() in {a.lower() for a in self.admins}
            )
        return not self.read_only

    def to_json(self) -> str:
        return json.dumps(
            {
                "auth_enabled": self.auth_enabled,
                "admins": list(self.admins),
                "read_only": self.read_only,
                "refresh_seconds": self.refresh_seconds,
                "allowed_domains": list(self.allowed_domains),
                "allowed_emails": list(self.allowed_emails),
                "require_verified_email": self.require_verified_email,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ViewerPolicy:
        raw = json.loads(text)
        return cls(
            auth_enabled=bool(raw["auth_enabled"]),
            admins=tuple(str(a) for a in raw["admins"]),
            read_only=bool(raw["read_only"]),
            refresh_seconds=int(raw["refresh_seconds"]),
            allowed_domains=tuple(str(d) for d in raw.get("allowed_domains", ())),
            allowed_emails=tuple(str(e) for e in raw.get("allowed_emails", ())),
            require_verified_email=bool(raw.get("require_verified_email", True)),
        )
