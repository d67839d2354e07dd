"""Checked request arguments (docs/protocol.md): each reader returns the argument or raises a
``bad_request`` error naming it."""

from __future__ import annotations

from typing import Any

from .protocol import BAD_REQUEST, ProtocolError


def bad_argument(name: str, expected: str) -> ProtocolError:
    return ProtocolError(BAD_REQUEST, f"Argument {name!r} must be {expected}.", {"argument": name})


def str_arg(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str):
        raise bad_argument(name, "a string")
    return value


def optional_str_arg(args: dict[str, Any], name: str) -> str | None:
    return None if args.get(name) is None else str_arg(args, name)


def str_list_arg(args: dict[str, Any], name: str, *, optional: bool = False) -> list[str]:
    value = args.get(name)
    if value is None and optional:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad_argument(name, "a list of strings")
    return value


def bool_arg(args: dict[str, Any], name: str) -> bool:
    value = args.get(name, False)
    if not isinstance(value, bool):
        raise bad_argument(name, "true or false")
    return value


def int_arg(args: dict[str, Any], name: str, *, default: int, minimum: int, maximum: int) -> int:
    value = args.get(name)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
        raise bad_argument(name, f"an integer from {minimum} to {maximum}")
    return value


def unique(items: list[str]) -> list[str]:
    """Without duplicates, in first-seen order."""
    return list(dict.fromkeys(items))
