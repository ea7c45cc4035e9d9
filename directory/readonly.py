"""Read-only dicts and lists: the parts answers share (see directory/snapshot.py _rendered).

They are `dict` and `list` to every reader and serialiser (json, orjson, pydantic); changing one
raises TypeError instead of silently changing every other answer that shares it.
"""

from __future__ import annotations

from typing import Any, NoReturn


def _refuse(self: Any, *_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError(f"this {type(self).__mro__[1].__name__} is shared by answers: copy it first")


class ReadOnlyDict(dict[str, Any]):
    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse


class ReadOnlyList(list[Any]):
    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
