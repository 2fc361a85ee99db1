"""The ``dashboard`` section of the configuration (owned by the dashboard package).

```yaml
dashboard:
  auth:                                   # optional: OIDC sign-in through st.login
    server_metadata_url: https://accounts.example.com/.well-known/openid-configuration
    client_id: headroom
    client_secret_file: /run/secrets/oidc_client_secret
    cookie_secret_file: /run/secrets/cookie_secret
    redirect_uri: https://headroom.example.com/oauth2callback
  admins: [alice@example.com]             # who may create and expire silences when auth is on
  read_only: true                         # without auth: true (default) hides every write action
  refresh_seconds: 60                     # auto-refresh period and cache TTL of live data
```
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from store.configtypes import Secret, StrictModel


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

    @model_validator(mode="after")
    def _load_secret_files(self) -> AuthConfig:
        for name in ("client_secret", "cookie_secret"):
            path: Path | None = getattr(self, f"{name}_file")
            if path is not None and getattr(self, name) is None:
                object.__setattr__(self, name, _read_secret_file(path, f"{name}_file"))
            if getattr(self, name) is None:
                raise ValueError(f"{name} (or {name}_file) is required when dashboard.auth is set")
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

    def can_write(self, user_email: str | None) -> bool:
        return self.policy().can_write(user_email)

    def policy(self) -> ViewerPolicy:
        """What the running app needs to know (no secret): handed to it in ``HEADROOM_DASHBOARD``."""
        return ViewerPolicy(auth_enabled=self.auth is not None, admins=tuple(self.admins),
                            read_only=self.read_only, refresh_seconds=self.refresh_seconds)


@dataclass(frozen=True, slots=True)
class ViewerPolicy:
    """Sign-in and write permissions as the running dashboard applies them."""

    auth_enabled: bool = False
    admins: tuple[str, ...] = ()
    read_only: bool = True
    refresh_seconds: int = 60

    def can_write(self, user_email: str | None) -> bool:
        """Whether this viewer may create or expire silences.

        With sign-in, only the signed-in users listed in ``admins`` may; without sign-in, nobody may
        unless ``read_only: false`` opens the dashboard to every viewer.
        """
        if self.auth_enabled:
            return user_email is not None and user_email.lower() in {a.lower() for a in self.admins}
        return not self.read_only

    def to_json(self) -> str:
        return json.dumps({"auth_enabled": self.auth_enabled, "admins": list(self.admins),
                           "read_only": self.read_only, "refresh_seconds": self.refresh_seconds})

    @classmethod
    def from_json(cls, text: str) -> ViewerPolicy:
        raw = json.loads(text)
        return cls(auth_enabled=bool(raw["auth_enabled"]), admins=tuple(str(a) for a in raw["admins"]),
                   read_only=bool(raw["read_only"]), refresh_seconds=int(raw["refresh_seconds"]))
