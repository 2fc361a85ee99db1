"""Logging for every Headroom process: one format, and no secret in any record.

The masking happens in the handlers' formatter (so records from every library and every logger,
tracebacks included, pass through it) and in a filter that also rewrites the record itself for
handlers added later by other code.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from types import TracebackType

from headroom_core.redact import mask

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
QUIET_LOGGERS = ("alembic", "httpx", "httpcore", "urllib3")


class SecretMaskFilter(logging.Filter):
    """Replaces registered secrets in the record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the raw parts, masked
            message = f"{record.msg} {record.args}"
        record.msg = mask(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


class SecretMaskFormatter(logging.Formatter):
    """A formatter whose output has every registered secret replaced by ``<secret>``."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


def setup_logging(level: str = "INFO", log_file: Path | None = None) -> None:
    """Configure the root logger: stderr (and ``log_file`` when given), secrets masked."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_headroom", False):
            root.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(SecretMaskFormatter(LOG_FORMAT))
        handler.addFilter(SecretMaskFilter())
        handler._headroom = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level.upper())
    # migrations run at every start: their progress lines are noise unless debugging
    for chatty in QUIET_LOGGERS:
        logging.getLogger(chatty).setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """Uncaught exceptions go through the masked log handlers instead of raw stderr."""
    logging.getLogger("headroom").critical("uncaught exception", exc_info=(exc_type, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("headroom").error(
        "uncaught exception in thread %s",
        name,
        exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
    )
