"""Reading configuration files: TOML only, never executed, every error names file and key."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from directory.errors import DirectoryError, ErrorKind

M = TypeVar("M", bound="ConfigModel")
E = TypeVar("E", bound=Enum)


class ConfigError(DirectoryError):
    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        super().__init__(ErrorKind.CONFIG, f"{path}: {key}: {problem}")
        self.path = str(path)
        self.key = key
        self.problem = problem


def read_toml(path: Path) -> tuple[dict[str, Any], bytes]:
    """Return the parsed file and its exact bytes (for digests)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, "(file)", f"cannot be read: {exc.strerror}") from None
    try:
        return tomllib.loads(raw.decode("utf-8")), raw
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(path, "(file)", f"is not valid TOML: {exc}") from None


# --- config files as pydantic models ------------------------------------------------------------
# A file (or one of its tables) is a ConfigModel; its fields use the checks below, which word
# their problems the same way everywhere ("must be a whole number"), and `load_model` turns the
# first problem into a ConfigError naming the file and the key ("rules[0].sender_domains").


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def load_model(path: Path, model: type[M], data: Any, prefix: str = "") -> M:
    if not isinstance(data, dict):
        raise ConfigError(path, prefix or "(top)", "must be a table")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(path, _key(prefix, first["loc"]), _problem(first)) from None


def _key(prefix: str, loc: tuple[int | str, ...]) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else part
    return out or "(top)"


def _problem(error: Any) -> str:
    kind = error["type"]
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return {
        "missing": "is required",
        "extra_forbidden": "is not a known setting",
        "model_type": "must be a table",
        "dict_type": "must be a table",
        "tuple_type": "must be an array",
        "list_type": "must be an array",
    }.get(kind, str(error["msg"]))


def non_empty_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value


def non_empty_texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("must be a list of non-empty strings")
    return tuple(value)


def whole(minimum: int = 0, maximum: int = 10**9) -> Callable[[Any], int]:
    """A whole number between the bounds: `Annotated[int, BeforeValidator(whole(1, 10))]`."""

    def check(value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("must be a whole number")
        if not minimum <= value <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}")
        return value

    return check


def seconds(low: float, high: float) -> Callable[[Any], float]:
    """A number of seconds between the bounds (as `whole`)."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number of seconds")
        if not low <= float(value) <= high:
            raise ValueError(f"must be between {low} and {high}")
        return float(value)

    return check


def choice(options: type[E]) -> Callable[[Any], E]:
    """One of an enumeration's values, as that enumeration (as `whole`)."""
    names = tuple(str(o.value) for o in options)

    def check(value: Any) -> E:
        text = non_empty_text(value)
        if text not in names:
            raise ValueError(f"must be one of {', '.join(names)}, not {text!r}")
        return options(text)

    return check


Text = Annotated[str, BeforeValidator(non_empty_text)]
Texts = Annotated[tuple[str, ...], BeforeValidator(non_empty_texts)]


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def tables(value: Any) -> tuple[Any, ...]:
    """A non-empty array of tables (each then checked as its model)."""
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("must be a non-empty array of tables")
    return tuple(value)


def array(value: Any) -> tuple[Any, ...]:
    """An array, possibly empty, of tables (each then checked as its model)."""
    if not isinstance(value, list | tuple):
        raise ValueError("must be an array")
    return tuple(value)


def table(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("must be a table")
    return value


TextList = Annotated[tuple[str, ...], BeforeValidator(non_empty_texts)]
Flag = Annotated[bool, BeforeValidator(flag)]
Table = Annotated[dict[str, Any], BeforeValidator(table)]


def one_of(names: tuple[str, ...]) -> Callable[[Any], str]:
    """One of these names (as `whole`)."""

    def check(value: Any) -> str:
        text = non_empty_text(value)
        if text not in names:
            raise ValueError(f"must be one of {', '.join(names)}, not {text!r}")
        return text

    return check
