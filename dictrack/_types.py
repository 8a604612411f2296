"""Registration of subclasses by stored type name (trackers, conditions, limiters)."""

from __future__ import annotations

from typing import Any, ClassVar


class Registered:
    """Subclasses register in their base's ``_registry`` under ``type_name``.

    ``type_name`` defaults to ``"<module>:<qualname>"``; built-ins set short
    names. The codec looks classes up here, so stored data can only ever build
    classes this process has defined: nothing is imported or unpickled.
    """

    type_name: ClassVar[str] = ""
    _registry: ClassVar[dict[str, type[Any]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_registry" in cls.__dict__:
            return  # a base class that owns a registry
        if "type_name" not in cls.__dict__:
            cls.type_name = f"{cls.__module__}:{cls.__qualname__}"
        cls._registry[cls.type_name] = cls
