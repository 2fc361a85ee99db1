"""Shared helpers of the alerts tests."""

from __future__ import annotations

from typing import Any


def alerts_config(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "default_rules": False,
        "allow_private_webhook_hosts": True,
        "evaluation_interval": 1,
    }
    base.update(overrides)
    return base
