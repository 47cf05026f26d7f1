"""How the ``scaleenv`` CLI fails: one line naming what and where, never a traceback.

Every command runs inside ``OneLineErrors.invoke`` (the app's group class), so a command
added by any module inherits the rule without code of its own: a ``ScaleEnvError`` or an
``OSError`` prints ``error: <what and where>`` and exits 1; a usage error (a bad option
value, a missing argument) prints ``error: <command>: <problem>`` and exits 2; anything else
is a bug and prints ``error: internal: <type>: <message>`` and exits 1. ``--debug`` re-raises
for the traceback. Data is printed literally: rich markup in a message (``[/b]``) is escaped.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from engine.errors import ScaleEnvError, one_line

try:  # typer >= 0.25 vendors click; older releases use click itself
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # pragma: no cover - older typer
    from click.exceptions import ClickException, UsageError  # type: ignore[assignment]

out = Console()
err = Console(stderr=True)
state = {"debug": False}
T = TypeVar("T")


def lit(value: Any) -> str:
    """``value`` as text that rich prints as written (no markup, no eaten brackets)."""
    return escape(str(value))


def error_line(exc: BaseException) -> str:
    """The one line a failure prints (without the ``error:`` prefix)."""
    if isinstance(exc, ScaleEnvError):
        return str(exc)
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else ""
        text = exc.strerror or str(exc) or type(exc).__name__
        return one_line(f"{where}: {text}" if where else text)
    detail = one_line(exc) if str(exc) else ""
    return one_line(f"internal: {type(exc).__name__}: {detail} (--debug shows the traceback)")


def print_error(message: str) -> None:
    err.print(f"[red]error:[/red] {lit(message)}", highlight=False, soft_wrap=True)


def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn``; an expected error becomes one red line and exit code 1."""
    try:
        return fn(*args, **kwargs)
    except (ScaleEnvError, OSError) as exc:
        if state["debug"] or _is_broken_pipe(exc):
            raise
        print_error(error_line(exc))
        raise typer.Exit(1) from None


def _is_broken_pipe(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno == errno.EPIPE


class OneLineErrors(TyperGroup):
    """The app's group: turns every failure below it into one line (see the module doc)."""

    def make_context(self, info_name: str | None, args: list[str], **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, **extra)
        except UsageError as exc:  # a bad top-level option
            _usage(exc)
            raise  # unreachable: _usage exits

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except UsageError as exc:
            if state["debug"]:
                raise
            _usage(exc)
        except ClickException as exc:
            if state["debug"]:
                raise
            print_error(exc.format_message())
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:
            if state["debug"] or _is_broken_pipe(exc):
                raise
            print_error(error_line(exc))
            raise typer.Exit(1) from None


def _usage(exc: UsageError) -> None:
    where = exc.ctx.command_path if exc.ctx is not None else "scaleenv"
    print_error(f"{where}: {exc.format_message()} (--help lists the options)")
    raise typer.Exit(exc.exit_code) from None
