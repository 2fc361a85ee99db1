"""What every ``headroom`` command shares: exit codes, the configuration
of the current invocation, and the guard that turns failures into one masked line and an exit code."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from headroom_core.redact import mask

if TYPE_CHECKING:
    from headroom.config import HeadroomConfig

EXIT_ERROR = 1
EXIT_CONFIG = 2
EXIT_BROKEN_PIPE = 141  # as a shell reports a process ended by SIGPIPE

F = TypeVar("F", bound=Callable[..., Any])


class State:
    def __init__(
        self, config: str | None, debug: bool, log_level: str = "INFO", log_file: Any = None
    ) -> None:
        self.config = config
        self.debug = debug
        self.log_level = log_level
        self.log_file = log_file


def err(message: str) -> None:
    click.echo(mask(message), err=True)


def fail(code: int, message: str) -> NoReturn:
    err(message)
    sys.exit(code)


def _state(ctx: click.Context) -> State:
    state = ctx.find_object(State)
    if state is None:
        state = ctx.obj = State(None, False)
    return state


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        _state(ctx).config = value


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _state(ctx).debug = True


def _set_logging(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is None:
        return
    from headroom.logging import setup_logging

    state = _state(ctx)
    if param.name == "log_level":
        state.log_level = str(value)
    else:
        state.log_file = value
    setup_logging(state.log_level, state.log_file)


def global_options() -> list[click.Option]:
    """``--config``, ``--log-level``, ``--log-file``, ``--debug``: accepted before the subcommand
    (``headroom --config F collect``) and after it (``headroom collect --config F``); the later wins."""
    from pathlib import Path

    return [
        click.Option(
            ["--config"],
            type=click.Path(dir_okay=False),
            default=None,
            expose_value=False,
            callback=_set_config,
            help="Configuration file (default: $HEADROOM_CONFIG, else ./headroom.yaml).",
        ),
        click.Option(
            ["--log-level"],
            type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
            default=None,
            expose_value=False,
            callback=_set_logging,
            help="Log level (default INFO).",
        ),
        click.Option(
            ["--log-file"],
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            expose_value=False,
            callback=_set_logging,
            help="Also write the log to this file.",
        ),
        click.Option(
            ["--debug"],
            is_flag=True,
            default=False,
            expose_value=False,
            callback=_set_debug,
            help="Print tracebacks of unexpected errors.",
        ),
    ]


def add_global_options(command: click.Command) -> None:
    """Give every subcommand (at any depth) the global options too."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            names = {opt for p in sub.params for opt in getattr(p, "opts", [])}
            sub.params.extend(o for o in global_options() if not set(o.opts) & names)
            add_global_options(sub)


def current_state() -> State:
    obj = click.get_current_context().find_object(State)
    return obj if obj is not None else State(None, False)


def load() -> HeadroomConfig:
    """The validated configuration (exits 2 with the messages when it is not usable)."""
    from headroom.config import load_config

    return load_config(current_state().config)


def exit_with(result: Any) -> None:
    code = result if isinstance(result, int) and not isinstance(result, bool) else 0
    sys.exit(code)


def guarded(name: str) -> Callable[[F], F]:
    """Turn config errors and unexpected exceptions into the documented exits."""

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
    from headroom_core.configtypes import parse_positive_duration

    if value is None:
        return None
    try:
        return parse_positive_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
