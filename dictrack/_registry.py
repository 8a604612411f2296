"""URL scheme registries behind `data_caches.from_url` and `data_stores.from_url`."""

from __future__ import annotations

import importlib
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from dictrack.errors import ConfigurationError

T = TypeVar("T")


class SchemeRegistry(Generic[T]):
    """A plain dict from URL scheme to ``"module:Class"``, imported on demand."""

    def __init__(
        self,
        kind: str,
        base: type,
        schemes: dict[str, str],
        extras: dict[str, str] | None = None,
    ) -> None:
        self._kind = kind
        self._base = base
        self._schemes = dict(schemes)
        #: scheme -> the pip extra with its driver (default: the scheme's name)
        self._extras: dict[str, str] = dict(extras or {})

    def register(self, scheme: str, target: str, extra: str | None = None) -> None:
        """Map ``scheme`` to ``"package.module:ClassName"``.

        :param extra: the pip extra that provides its driver, named in errors.
        """
        if not isinstance(scheme, str) or not scheme.isidentifier():
            raise ValueError(
                f"scheme must be a simple name like 'redis', got {scheme!r}"
            )
        if not isinstance(target, str) or ":" not in target:
            raise ValueError(
                f"target must look like 'package.module:Class', got {target!r}"
            )
        self._schemes[scheme.lower()] = target
        if extra:
            self._extras[scheme.lower()] = extra

    @property
    def schemes(self) -> list[str]:
        return sorted(self._schemes)

    def create(self, url: str, **kwargs: Any) -> T:
        """Build the backend that ``url`` names."""
        if not isinstance(url, str):
            raise TypeError(f"{self._kind} URL must be a str, got {type(url).__name__}")
        scheme = urlsplit(url).scheme.lower()
        target = self._schemes.get(scheme)
        if target is None:
            raise ConfigurationError(
                f"unknown {self._kind} URL scheme {scheme!r} in {url!r}; "
                f"known schemes: {', '.join(self.schemes)}"
            )
        module_name, _, class_name = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ConfigurationError:
            raise
        except ImportError as exc:
            extra = self._extras.get(scheme, scheme)
            raise ConfigurationError(
                f"the {scheme!r} {self._kind} needs an optional dependency: "
                f"pip install 'dictrack[{extra}]' ({exc})"
            ) from exc
        cls = getattr(module, class_name)
        if not (isinstance(cls, type) and issubclass(cls, self._base)):
            raise ConfigurationError(f"{target} is not a {self._base.__name__}")
        backend: T = cls.from_url(url, **kwargs)  # type: ignore[attr-defined]  # base API
        return backend
