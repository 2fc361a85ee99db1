"""prometheus engine: a Prometheus-compatible HTTP API (Prometheus, Thanos, Mimir, VictoriaMetrics) as a
source of exporter metrics, through prometheus-api-client.

A target of ``engine: prometheus`` has the API's URL as ``dsn`` (basic-auth user in the URL, password as
``password`` / ``password_file`` — a secret, never logged) and picks its exporter series with the label
``prometheus_match`` (PromQL label matchers, e.g. ``instance=~"db1:(9187|9100)"``). Its one metric
``prometheus_import`` evaluates every applicable rule of :mod:`collectors.prometheus_map` at the poll's
timestamp and writes the canonical series under the target's name. :class:`PromApi` is shared with
``headroom backfill``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3.util.retry import Retry

from collectors import prometheus_map as pm
from collectors.batch import Batch
from collectors.config import TargetConfig
from collectors.dbvalues import ApiCall, Json, Params, PythonState
from collectors.engines.base import (
    ConnectionLost,
    Engine,
    ProtocolError,
    PythonContext,
    QueryError,
    Row,
    ServerInfo,
)

Labels = dict[str, str]
#: what reading an answer of the wrong shape raises (HTML, JSON of another shape, a missing key)
T = TypeVar("T")
GARBAGE = (ValueError, KeyError, TypeError, AttributeError, IndexError)
#: how often the exporter metric names present for a target are looked up again (seconds)
DISCOVERY_EVERY = 3600.0


@dataclass(frozen=True)
class PromSource:
    """Where and how to reach the API. ``repr`` never shows the password."""

    base_url: str  # without user information
    username: str | None = None
    password: str | None = None
    verify_tls: bool = True

    def __repr__(self) -> str:
        return f"PromSource({self.base_url!r}, user={self.username!r})"

    @property
    def auth(self) -> tuple[str, str] | None:
        return None if self.username is None else (self.username, self.password or "")

    @classmethod
    def from_target(cls, target: TargetConfig) -> PromSource:
        parts = urlsplit(str(target.dsn))
        hostport = parts.netloc.rpartition("@")[2]
        base = urlunsplit((parts.scheme, hostport, parts.path.rstrip("/"), "", ""))
        password = target.password.reveal() if target.password is not None else None
        user = unquote(parts.username) if parts.username else None
        return cls(base, user, password)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


class PromApi:
    """Blocking calls to the query API, errors turned into engine errors (never showing credentials)."""

    def __init__(self, source: PromSource, timeout: float = 30.0, retries: int = 2) -> None:
        self.source = source
        retry = Retry(
            total=retries, backoff_factor=0.5, status_forcelist=[429, 502, 503, 504], allowed_methods=["GET"]
        )
        self.client = PrometheusConnect(
            source.base_url,
            disable_ssl=not source.verify_tls,
            auth=source.auth,
            retry=retry,
            timeout=max(1, int(math.ceil(timeout))),
        )

    def _call(self, fn: ApiCall, *args: Json, **kwargs: Json) -> Json:
        try:
            return fn(*args, **kwargs)
        except GARBAGE as exc:
            # not a Prometheus answer (HTML, JSON of another shape); requests' JSONDecodeError lands here too
            raise ProtocolError(self._garbage(exc)) from None
        except requests.RequestException as exc:
            raise ConnectionLost(f"cannot reach {self.source.base_url}: {type(exc).__name__}") from None
        except PrometheusApiClientException as exc:
            text = _first_line(exc)
            if "HTTP Status Code 401" in text or "HTTP Status Code 403" in text:
                raise ConnectionLost(
                    f"{self.source.base_url}: access denied (check the user and password)"
                ) from None
            raise QueryError(f"{self.source.base_url}: {text}") from None

    def _garbage(self, exc: BaseException) -> str:
        return f"{self.source.base_url}: not a Prometheus query API answer ({type(exc).__name__}: {_first_line(exc)})"

    def _parse(self, fn: Callable[[Json], T], data: Json) -> T:
        """Read an answer whose shape the server chose: a wrong shape is a protocol error."""
        try:
            return fn(data)
        except GARBAGE as exc:
            raise ProtocolError(self._garbage(exc)) from None

    def instant(self, expr: str, ts: float | None = None) -> list[tuple[Labels, float, float]]:
        params = {"time": f"{ts:.3f}"} if ts is not None else None
        data = self._call(self.client.custom_query, expr, params=params)

        def read(data: Json) -> list[tuple[Labels, float, float]]:
            out = []
            for item in data or []:
                value = item.get("value")
                if value:
                    out.append((_labels(item), float(value[0]), _float(value[1])))
            return out

        return self._parse(read, data)

    def range(
        self, expr: str, start: int, end: int, step: int
    ) -> list[tuple[Labels, list[tuple[int, float]]]]:
        data = self._call(
            self.client.custom_query_range,
            expr,
            dt.datetime.fromtimestamp(start, dt.UTC),
            dt.datetime.fromtimestamp(end, dt.UTC),
            str(step),
        )
        return self._parse(
            lambda data: [
                (_labels(item), [(int(round(float(t))), _float(v)) for t, v in item.get("values") or []])
                for item in data or []
            ],
            data,
        )

    def names(self, selector: str, start: float, end: float, candidates: Sequence[str]) -> set[str] | None:
        """Which of ``candidates`` have series matching ``selector`` in [start, end] (None: the API
        cannot tell; then every rule is tried)."""
        regex = "|".join(sorted(candidates))
        params = {
            "match[]": f'{{__name__=~"{regex}",{selector}}}',
            "start": f"{start:.0f}",
            "end": f"{end:.0f}",
        }
        try:
            values = self._call(self.client.get_label_values, "__name__", params=params)
        except QueryError:
            return None
        return {str(v) for v in values or []}

    def scrape_interval(self, selector: str, metric: str, at: float) -> float | None:
        """Median spacing of the raw samples of ``metric`` in the 5 minutes before ``at``."""
        gaps: list[float] = []
        try:
            data = self._call(
                self.client.custom_query, f"{metric}{{{selector}}}[5m]", params={"time": f"{at:.3f}"}
            )
        except QueryError:
            return None
        for item in data or []:
            ts = [float(t) for t, _ in item.get("values") or []]
            gaps.extend(b - a for a, b in zip(ts, ts[1:], strict=False) if b > a)
        return statistics.median(gaps) if gaps else None

    def buildinfo(self) -> Mapping[str, Json]:
        url = f"{self.source.base_url}/api/v1/status/buildinfo"
        try:
            resp = self.client._session.get(
                url, auth=self.source.auth, verify=self.client._session.verify, timeout=self.client._timeout
            )
        except requests.RequestException as exc:
            raise ConnectionLost(f"cannot reach {self.source.base_url}: {type(exc).__name__}") from None
        if resp.status_code in (401, 403):
            raise ConnectionLost(f"{self.source.base_url}: access denied (check the user and password)")
        try:
            data = resp.json().get("data") if resp.status_code == 200 else None
        except ValueError:
            data = None
        return data if isinstance(data, dict) else {}


def _labels(item: Mapping[str, Json]) -> Labels:
    return {str(k): str(v) for k, v in (item.get("metric") or {}).items() if k != "__name__"}


def _float(raw: Json) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return math.nan


def target_selector(target: TargetConfig) -> str:
    """The rendered label matchers of a prometheus target (``labels.prometheus_match``)."""
    raw = target.labels.get(pm.MATCH_LABEL)
    if not raw:
        raise ValueError(
            f"target {target.name}: an engine: prometheus target needs labels.{pm.MATCH_LABEL} "
            '(PromQL label matchers such as instance="db1:9187") to know which exporter series are its own'
        )
    return pm.render_selector(pm.parse_selector(raw))


class PrometheusEngine(Engine):
    name = "prometheus"

    def __init__(self, target: TargetConfig, statement_timeout: float = 10.0) -> None:
        super().__init__(target, statement_timeout)
        self.source = PromSource.from_target(target)
        self.selector = target_selector(target)
        self.api: PromApi | None = None

    async def connect(self) -> None:
        api = PromApi(self.source, timeout=self.statement_timeout, retries=0)
        rows = await asyncio.to_thread(api.instant, "vector(1)")
        if not rows:
            raise ConnectionLost(f"{self.source.base_url}: the query API answered vector(1) with nothing")
        self.api = PromApi(self.source, timeout=self.statement_timeout, retries=1)

    async def close(self) -> None:
        self.api = None

    def _api(self) -> PromApi:
        if self.api is None:
            raise ConnectionLost(f"not connected to {self.source.base_url}")
        return self.api

    async def server_info(self) -> ServerInfo:
        info = await asyncio.to_thread(self._api().buildinfo)
        version = str(info.get("version") or "")
        parts = [int(p) for p in version.split(".")[:3] if p.isdigit()] + [0, 0, 0]
        return ServerInfo(
            flavour="prometheus",
            version_num=parts[0] * 10000 + parts[1] * 100 + parts[2],
            version_str=f"Prometheus API {version}".strip(),
            in_recovery=False,
            current_user=self.source.username or "",
        )

    async def fetch(
        self,
        sql: str,
        params: Params | None = None,
        timeout: float | None = None,
        database: str | None = None,
    ) -> list[Row]:
        """Evaluate a PromQL expression now: one row per series (its labels and ``value``)."""
        rows = await asyncio.to_thread(self._api().instant, sql)
        return [{**labels, "value": value} for labels, _, value in rows]

    async def ping(self) -> None:
        await self.fetch("vector(1)")


def import_at(
    api: PromApi, selector: str, target: str, ts: int, step: float, state: PythonState, batch: Batch
) -> int:
    """Evaluate every applicable rule at ``ts`` and add the samples to ``batch``; returns how many."""
    now = float(ts)
    if "present" not in state or now - state.get("discovered_at", 0.0) > DISCOVERY_EVERY:
        present = api.names(selector, now - 600, now, sorted(pm.SOURCE_NAMES))
        if present is not None and not present:
            state.pop("present", None)  # look again next time
            raise QueryError(
                f"no exporter series match {{{selector}}} in the last 10 minutes "
                f"(check labels.{pm.MATCH_LABEL} and that Prometheus scrapes the exporter)"
            )
        state["present"], state["discovered_at"] = present, now
        probe = sorted(present or [])[:1]
        state["scrape"] = api.scrape_interval(selector, probe[0], now) if probe else None
    window = f"{pm.rate_window(step, state.get('scrape'))}s"
    count = 0
    for _key, rule in pm.applicable(state["present"]):
        expr = rule.expr(selector, window, state["present"])
        if expr is None:
            continue
        for labels, _, value in api.instant(expr, now):
            if math.isfinite(value):
                batch.add_sample(target, rule.name, {k: labels.get(k, "") for k in rule.labels}, ts, value)
                count += 1
    return count


async def import_live(ctx: PythonContext) -> list[Row]:
    """The ``prometheus_import`` metric: every mapped series at the poll's timestamp."""
    engine = ctx.engine
    if not isinstance(engine, PrometheusEngine):
        raise QueryError("prometheus_import runs only on engine: prometheus targets")
    last = ctx.state.get("last_ts")
    step = float(ctx.ts - last) if last else ctx.metric.interval
    ctx.state["last_ts"] = ctx.ts
    await asyncio.to_thread(
        import_at, engine._api(), engine.selector, ctx.target, ctx.ts, step, ctx.state, ctx.batch
    )
    return []


ENGINE = PrometheusEngine
