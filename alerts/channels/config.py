"""Configuration models of the notification channels. URLs and keys are secrets with ``*_file`` siblings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from headroom_core.configtypes import Duration, DurationOrZero, Secret, StrictModel

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


def _read_secret_file(path: Path | None) -> Secret | None:
    """The secret in `path` when it can be read from here; a relative path that does not exist from the
    working directory is left to Headroom's config loader, which resolves it next to the config file."""
    if path is None or not path.is_file():
        return None
    return Secret(path.read_text(encoding="utf-8").strip())


def _check_file(path: Path | None) -> Path | None:
    if path is not None and path.is_absolute() and not path.is_file():
        raise ValueError(f"file {str(path)!r} does not exist or is not a regular file")
    return path


class ChannelBase(StrictModel):
    #: the secret fields of the channel type, each with ``<field>_file`` beside it, and the type's name
    #: when the channel cannot work without that secret (None: optional)
    secret_fields: ClassVar[tuple[tuple[str, str | None], ...]] = ()

    name: str = Field(description="Referenced by routes.")
    rate_limit_per_minute: float = Field(default=60.0, gt=0, description="Sends per minute at most.")
    rate_limit_burst: int = Field(default=3, ge=1, description="Sends allowed back to back before the limit.")
    timeout: Duration = Field(
        default=10.0, description="Total time one attempt may take (connect, send, answer)."
    )
    retry_for: DurationOrZero = Field(
        default=86400.0, description="Give up (status failed) after retrying this long."
    )
    retry_after_max: DurationOrZero = Field(
        default=600.0, description="A receiver's Retry-After is honoured up to this long, never longer."
    )
    allow_private_hosts: bool | None = Field(
        default=None,
        description="Allow loopback/private/link-local hosts (default: alerts.allow_private_webhook_hosts).",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v or len(v) > 200:
            raise ValueError("a channel name must have 1 to 200 characters")
        return v

    @field_validator("*")
    @classmethod
    def _secret_file_exists(cls, v: object, info: ValidationInfo) -> object:
        if info.field_name is not None and info.field_name.endswith("_file") and isinstance(v, Path):
            return _check_file(v)
        return v

    @model_validator(mode="after")
    def _secrets_from_files(self) -> Self:
        for field, required_by in self.secret_fields:
            self._secret_from_file(field, required_by)
        return self

    def _secret_from_file(self, field: str, required_by: str | None) -> None:
        """Fill the secret ``field`` from ``<field>_file`` when it was not given inline; ``required_by``
        (the channel type) names a channel that needs it one way or the other."""
        file = getattr(self, f"{field}_file")
        self.__dict__[field] = getattr(self, field) or _read_secret_file(file)
        if required_by and not self.__dict__[field] and file is None:
            raise ValueError(f"{required_by} channel needs {field} or {field}_file")


class SlackChannel(ChannelBase):
    secret_fields = (("webhook_url", "slack"),)
    type: Literal["slack"]
    webhook_url: Secret | None = Field(default=None, description="Incoming webhook URL (a secret).")
    webhook_url_file: Path | None = None
    rate_limit_per_minute: float = Field(default=60.0, gt=0)


class PagerDutyChannel(ChannelBase):
    secret_fields = (("routing_key", "pagerduty"),)
    type: Literal["pagerduty"]
    routing_key: Secret | None = Field(default=None, description="Events API v2 integration key (a secret).")
    routing_key_file: Path | None = None
    url: str = Field(default=PAGERDUTY_EVENTS_URL, description="Events API endpoint.")
    rate_limit_per_minute: float = Field(default=120.0, gt=0)


class WebhookChannel(ChannelBase):
    secret_fields = (("url", "webhook"), ("hmac_secret", None))
    type: Literal["webhook"]
    url: Secret | None = Field(default=None, description="Receiver URL (a secret).")
    url_file: Path | None = None
    hmac_secret: Secret | None = Field(default=None, description="Signs the body with HMAC-SHA256 when set.")
    hmac_secret_file: Path | None = None
    signature_header: str = Field(default="X-Headroom-Signature", description="Header carrying sha256=<hex>.")
    max_alerts: int = Field(default=0, ge=0, description="Truncate the alert list (0: no limit).")


class AlertmanagerChannel(ChannelBase):
    secret_fields = (("url", "alertmanager"),)
    type: Literal["alertmanager"]
    url: Secret | None = Field(
        default=None, description="Alertmanager base URL, e.g. http://am:9093 (a secret)."
    )
    url_file: Path | None = None
    resend_interval: Duration = Field(default=60.0, description="Firing alerts are re-sent this often.")
    rate_limit_per_minute: float = Field(default=600.0, gt=0)


class LogChannel(ChannelBase):
    type: Literal["log"]
    rate_limit_per_minute: float = Field(default=6000.0, gt=0)


ChannelConfig = Annotated[
    SlackChannel | PagerDutyChannel | WebhookChannel | AlertmanagerChannel | LogChannel,
    Field(discriminator="type"),
]
