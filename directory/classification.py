"""Classification schemes: ordered markings with aliases, loaded from config/schemes/*.toml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator

from directory.configfile import (
    ConfigError,
    ConfigModel,
    Text,
    TextList,
    load_model,
    read_toml,
    tables,
)
from directory.errors import malformed

_SEPARATORS = re.compile(r"[\s\-:_/]+")
MAX_NAME_LENGTH = 200


def fold(name: str) -> str:
    """Fold a marking for comparison: case, and runs of spaces, hyphens and colons."""
    return _SEPARATORS.sub(" ", name).strip().upper()


@dataclass(frozen=True, slots=True)
class Level:
    name: str
    rank: int
    aliases: tuple[str, ...]
    descriptors: tuple[str, ...]


@dataclass(frozen=True)
class Scheme:
    name: str
    title: str
    levels: tuple[Level, ...]
    _index: dict[str, Level]
    _descriptors: dict[str, tuple[str, ...]]

    def resolve(self, marking: str) -> Level:
        """The level a sender's marking names; a marking we do not know is a client error."""
        found = self.find(marking)
        if found is None:
            raise malformed(
                f"unknown classification {marking[:MAX_NAME_LENGTH]!r} in scheme {self.name}; "
                f"known: {', '.join(level.name for level in self.levels)}",
                field="classification",
            )
        return found

    def find(self, marking: str) -> Level | None:
        if not marking or len(marking) > MAX_NAME_LENGTH:
            return None
        key = fold(marking)
        level = self._index.get(key)
        if level is not None:
            return level
        # A level (or alias) followed by one of its descriptors: "OFFICIAL-SENSITIVE PERSONAL".
        for prefix, found in self._index.items():
            if key.startswith(prefix + " "):
                rest = key[len(prefix) + 1 :]
                if rest in self._descriptors.get(found.name, ()):
                    return found
        return None

    def level(self, name: str) -> Level:
        for level in self.levels:
            if level.name == name:
                return level
        raise KeyError(name)


class _LevelFile(ConfigModel):
    name: Text
    aliases: TextList = ()
    descriptors: TextList = ()


class _SchemeFile(ConfigModel):
    name: Text
    title: Text | None = None
    levels: Annotated[tuple[_LevelFile, ...], BeforeValidator(tables)]


def load_scheme(path: Path) -> Scheme:
    data, _ = read_toml(path)
    found = load_model(path, _SchemeFile, data)
    levels: list[Level] = []
    index: dict[str, Level] = {}
    descriptors: dict[str, tuple[str, ...]] = {}
    for rank, raw in enumerate(found.levels):
        level = Level(
            name=raw.name,
            rank=rank,
            aliases=raw.aliases,
            descriptors=tuple(fold(d) for d in raw.descriptors),
        )
        for alias in (level.name, *level.aliases):
            key = fold(alias)
            if key in index and index[key] is not level:
                raise ConfigError(
                    path,
                    f"levels[{rank}]",
                    f"name or alias {alias!r} is already used by {index[key].name}",
                )
            index[key] = level
        descriptors[level.name] = level.descriptors
        levels.append(level)
    return Scheme(found.name, found.title or found.name, tuple(levels), index, descriptors)
