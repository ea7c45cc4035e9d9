"""Reading configuration files: TOML only, never executed, every error names file and key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from directory.errors import DirectoryError, ErrorKind


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


class Fields:
    """Typed access to one table of a config file, recording which keys were read."""

    def __init__(self, path: Path, prefix: str, table: Any) -> None:
        if not isinstance(table, dict):
            raise ConfigError(path, prefix or "(top)", "must be a table")
        self.path = path
        self.prefix = prefix
        self.table: dict[str, Any] = table
        self.read: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, problem: str) -> ConfigError:
        return ConfigError(self.path, self.key(name), problem)

    def _get(self, name: str, default: Any, required: bool) -> Any:
        self.read.add(name)
        if name not in self.table:
            if required:
                raise self.error(name, "is required")
            return default
        return self.table[name]

    def string(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self._get(name, default, required)
        if not isinstance(value, str) or not value.strip():
            raise self.error(name, "must be a non-empty string")
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = self.string(name, default)
        if value not in options:
            raise self.error(name, f"must be one of {', '.join(options)}, not {value!r}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self._get(name, default, False)
        if not isinstance(value, bool):
            raise self.error(name, "must be true or false")
        return value

    def integer(self, name: str, default: int, *, minimum: int = 0, maximum: int = 10**9) -> int:
        value = self._get(name, default, False)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(name, "must be a whole number")
        if not minimum <= value <= maximum:
            raise self.error(name, f"must be between {minimum} and {maximum}")
        return value

    def strings(self, name: str, default: list[str] | None = None) -> tuple[str, ...]:
        value = self._get(name, default or [], False)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(name, "must be a list of non-empty strings")
        return tuple(value)

    def table_of(self, name: str) -> dict[str, Any]:
        value = self._get(name, None, True)
        if not isinstance(value, dict):
            raise self.error(name, "must be a table")
        return value

    def list_of_tables(self, name: str) -> list[Any]:
        value = self._get(name, None, True)
        if not isinstance(value, list) or not value:
            raise self.error(name, "must be a non-empty array of tables")
        return value

    def refuse_unknown(self) -> None:
        unknown = sorted(set(self.table) - self.read)
        if unknown:
            raise self.error(unknown[0], "is not a known setting")
