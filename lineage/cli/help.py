"""How the command line presents itself: help pages, usage lines and usage errors.

typer's defaults show a parameter's Python type (`<list[str]>`, `<int range>`), put required
arguments in braces (`{data_root}`) and pass pydantic's wording through to errors
(`Value error, 'xml' is not one of ...`). Here every parameter gets a metavar a person reads
(`DATA_ROOT`, `CHECK`, `[table|json|md|csv]`), usage lines read as in any Unix tool, and a
usage error is one line in the same form as every other error, exit 2.
"""

from __future__ import annotations

import re
import sys
from enum import Enum
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

# click's exception classes, from whichever click typer uses (newer typers carry their own).
ClickUsageError = typer.BadParameter.__mro__[1]
ClickException = ClickUsageError.__mro__[1]


def _choices(param: Any) -> list[str] | None:
    descriptor = getattr(param, "type_descriptor", None)
    choices = getattr(descriptor, "choices", None) if descriptor is not None else getattr(param.type, "choices", None)
    if not choices:
        return None
    return [c.value if isinstance(c, Enum) else str(c) for c in choices]


def name_params(command: Any) -> None:
    """Give each parameter without a declared metavar one: its name in capitals (an argument,
    or an option's value), or its choices as [a|b|c]."""
    for param in command.params:
        if param.metavar is not None or getattr(param, "is_flag", False):
            continue
        choices = _choices(param)
        if choices and param.param_type_name == "option":
            param.metavar = f"[{'|'.join(choices)}]"
        else:
            param.metavar = param.name.upper()


class LineageCommand(TyperCommand):
    """A command whose help and usage line show metavars, not Python types."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        name_params(self)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = param.metavar + ("..." if param.nargs != 1 else "")
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                # The metavar alone, not "DATA_ROOT <path>".
                arguments.append((param.metavar, record[1]))
            else:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class LineageGroup(TyperGroup):
    """A command group: its own options named like a command's, and usage errors (of any
    command below it) as one line on stderr with exit 2."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        name_params(self)

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except ClickUsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `lineage migrate` alone: its help
                exc.show()
            else:
                say_usage_error(exc)
            sys.exit(exc.exit_code)
        except ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.stderr.write("lineage: aborted\n")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


class LineageTyper(typer.Typer):
    """typer.Typer whose commands and groups are the classes above."""

    def __init__(self, **kwargs: Any):
        super().__init__(cls=LineageGroup, rich_markup_mode=None, pretty_exceptions_enable=False, **kwargs)

    def command(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("cls", LineageCommand)
        return super().command(*args, **kwargs)


def usage_message(exc: Any) -> str:
    """click's message without pydantic's "Value error, " and with the help hint on the same line."""
    message = re.sub(r"\bValue error, ", "", exc.format_message()).rstrip(".")
    message = message[0].lower() + message[1:] if message[:1].isupper() and message[1:2].islower() else message
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"{message}{hint}"


def say_usage_error(exc: Any) -> None:
    from lineage.core.text import terminal_text

    sys.stderr.write(f"lineage: error: {terminal_text(usage_message(exc))}\n")
