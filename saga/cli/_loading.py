"""Loading the user's sagas and participants named on the command line (``module`` or
``module:Name``), the way app-loading commands of web frameworks do."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from saga.definition.participant import Participant
from saga.definition.saga import Saga
from saga.errors import ConfigError


def load_hosts(targets: Sequence[str]) -> tuple[list[type[Saga[Any]]], list[Participant]]:
    """Every Saga class and Participant in the named modules, or the named objects."""
    sagas: list[type[Saga[Any]]] = []
    participants: list[Participant] = []
    for target in targets:
        found = [load_object(target)] if ":" in target else list(vars(_module(target)).values())
        for obj in found:
            if isinstance(obj, type) and issubclass(obj, Saga) and obj is not Saga:
                if obj not in sagas:
                    sagas.append(obj)
            elif isinstance(obj, Participant) and obj not in participants:
                participants.append(obj)
            elif ":" in target:
                raise ConfigError(f"{target} is {obj!r}, not a Saga class or a Participant")
    if not sagas and not participants:
        raise ConfigError(f"no Saga classes or Participants found in {', '.join(targets)}")
    return sagas, participants


def _module(name: str) -> ModuleType:
    # Like other app-loading CLIs, resolve modules from the current directory first.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            raise ConfigError(
                f"cannot import module {name!r}: check the module path (it is imported "
                "from the current directory and the installed packages)"
            ) from None
        raise


def load_object(target: str) -> object:
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"{target!r} is not module.path:Name, e.g. shop.sagas:OrderSaga")
    obj: object = _module(module_name)
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(
                f"module {module_name!r} has no {attribute!r}: check the name after the colon"
            ) from None
    return obj
