"""What every ``headroom`` command shares: exit codes, the lazy stage import, the configuration
of the current invocation, and the guard that turns failures into one masked line and an exit code."""

from __future__ import annotations

import functools
import importlib
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from headroom.redact import mask

EXIT_ERROR = 1
EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3
EXIT_BROKEN_PIPE = 141  # as a shell reports a process ended by SIGPIPE

F = TypeVar("F", bound=Callable[..., Any])


class StageUnavailable(Exception):
    """The module or entry function of a stage is not part of this build."""


class State:
    def __init__(self, config: str | None, debug: bool) -> None:
        self.config = config
        self.debug = debug


def err(message: str) -> None:
    click.echo(mask(message), err=True)


def fail(code: int, message: str) -> NoReturn:
    err(message)
    sys.exit(code)


def stage(module: str, function: str) -> Callable[..., Any]:
    """Import ``module.function``; :class:`StageUnavailable` when either does not exist."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
            raise StageUnavailable(module) from None
        raise
    func = getattr(mod, function, None)
    if func is None:
        raise StageUnavailable(f"{module}.{function}")
    return func


def current_state() -> State:
    obj = click.get_current_context().find_object(State)
    return obj if obj is not None else State(None, False)


def load() -> Any:
    """The validated configuration (exits 2 with the messages when it is not usable)."""
    from headroom.config import load_config

    return load_config(current_state().config)


def exit_with(result: Any) -> None:
    code = result if isinstance(result, int) and not isinstance(result, bool) else 0
    sys.exit(code)


def guarded(name: str) -> Callable[[F], F]:
    """Turn config errors, missing stages and unexpected exceptions into the documented exits."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from headroom.config import ConfigError

            try:
                return func(*args, **kwargs)
            except ConfigError as exc:
                for message in exc.messages:
                    err(message)
                sys.exit(EXIT_CONFIG)
            except StageUnavailable:
                fail(EXIT_UNAVAILABLE, f"headroom {name}: this stage is not available in this build")
            except BrokenPipeError:  # `headroom query ... | head`: the reader left; stop quietly
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                sys.exit(EXIT_BROKEN_PIPE)
            except KeyboardInterrupt:
                fail(130, f"headroom {name}: interrupted")
            except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, SystemExit):
                raise
            except Exception as exc:
                if current_state().debug:
                    err("".join(traceback.format_exception(exc)))
                text = str(exc).strip().splitlines()
                detail = text[0] if text else type(exc).__name__
                fail(EXIT_ERROR, f"error: headroom {name}: {type(exc).__name__}: {detail}")

        return wrapper  # type: ignore[return-value]

    return decorate


def align(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows)


def duration_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    from store.configtypes import parse_positive_duration

    if value is None:
        return None
    try:
        return parse_positive_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
