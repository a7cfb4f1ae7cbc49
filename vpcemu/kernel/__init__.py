"""The only code that touches the system: namespaces, netlink, nft, captures, processes, the journal."""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types


class _DeferredPackage(types.ModuleType):
    """A package whose own __init__ runs only when it is asked for a name that is not one of its submodules.

    pyroute2's __init__ imports all of pyroute2 (NDB, IPDB, IPVS, WireGuard, nl80211, ...: 0.1 s, a third
    of a lab's time to usable); the kernel layer needs its netlink definitions only. Submodules import as
    usual; `from pyroute2 import IPRoute` (anyone's, ours included) runs the real __init__ in this very
    module object first, so every name it defines is there, as if it had run at the start."""

    def __getattr__(self, name: str):
        try:
            return importlib.import_module(f"{self.__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{self.__name__}.{name}":
                raise
        self.__class__ = types.ModuleType           # from here on a plain module: the __init__ runs once
        self.__spec__.loader.exec_module(self)
        return getattr(self, name)


def _defer_package_init(name: str) -> None:
    if name in sys.modules:
        return                                      # imported already (by the program using vpcemu)
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        return
    module = _DeferredPackage(name)
    module.__spec__, module.__loader__, module.__file__ = spec, spec.loader, spec.origin
    module.__path__, module.__package__ = list(spec.submodule_search_locations), name
    sys.modules[name] = module


_defer_package_init("pyroute2")
