"""Check JSON objects against the typed resource models of the installed ``stripe`` package.

The SDK declares each object's fields as class annotations (``created: int``,
``status: Literal["open", "complete", "expired"]``, ``customer_details: Optional[CustomerDetails]``).
:func:`problems` resolves them with :func:`typing.get_type_hints` and walks a JSON object against
them: every key must be a declared field, every non-optional field must be present, values must
have the declared types (nested objects recursively, an event's ``data.object`` against the model of
its ``object``) and enum (``Literal``) values must be among the declared ones.
"""

from __future__ import annotations

import ast
import datetime
import decimal
import functools
import importlib
import inspect
import pkgutil
import sys
import types
import typing
from typing import Any, Literal, Union

import stripe
from stripe._object_classes import OBJECT_CLASSES
from stripe._stripe_object import StripeObject, UntypedStripeObject

_NONE = type(None)


@functools.cache
def _all_stripe_modules() -> None:
    """Import every ``stripe`` submodule so forward references (``"TestClock"``) resolve."""
    for info in pkgutil.walk_packages(stripe.__path__, "stripe."):
        importlib.import_module(info.name)


class _Namespace(dict):  # type: ignore[type-arg]
    """Globals for ``get_type_hints``: a module's names, then any name the SDK defines."""

    def __missing__(self, name: str) -> Any:
        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("stripe") and hasattr(module, name):
                return getattr(module, name)
        raise KeyError(name)


@functools.cache
def _type_checking_imports(module_name: str) -> dict[str, Any]:
    """Names a module imports only under ``if TYPE_CHECKING:`` (``TaxId as TaxIdResource``)."""
    module = sys.modules[module_name]
    names: dict[str, Any] = {}
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.ImportFrom) and node.module:
            source = importlib.import_module(node.module)
            for alias in node.names:
                if hasattr(source, alias.name):
                    names[alias.asname or alias.name] = getattr(source, alias.name)
    return names


def _scopes(model: type) -> dict[str, Any]:
    """The class's own names and those of the classes it is nested in (``Session.CustomerDetails``)."""
    module = sys.modules[model.__module__]
    scope: dict[str, Any] = {}
    node: Any = module
    for part in model.__qualname__.split("."):
        node = getattr(node, part)
        scope.update(vars(node))
    return scope


@functools.cache
def fields(model: type) -> dict[str, Any]:
    """The public fields a model declares, name -> resolved type."""
    _all_stripe_modules()
    module_names = {**_type_checking_imports(model.__module__), **vars(sys.modules[model.__module__])}
    hints = typing.get_type_hints(
        model, globalns=_Namespace(module_names), localns=_Namespace(_scopes(model))
    )
    return {
        name: hint
        for name, hint in hints.items()
        if not name.startswith("_") and typing.get_origin(hint) is not typing.ClassVar
    }


def is_optional(hint: Any) -> bool:
    """True when ``hint`` admits ``None`` (the SDK's mark for nullable or absent fields)."""
    return typing.get_origin(hint) in (Union, types.UnionType) and _NONE in typing.get_args(hint)


def problems(value: Any, model: type, path: str = "", required: frozenset[str] = frozenset()) -> list[str]:
    """Every difference between the JSON ``value`` and ``model`` (an SDK class), as readable lines.

    The SDK types a field that Stripe may leave out as ``Optional`` (it does not tell "null" from
    "absent"), so optional fields may be missing unless ``required`` names them (dotted paths
    from the top object, such as ``"customer_details.email"``).
    """
    if not isinstance(value, dict):
        return [f"{path or '<root>'}: expected an object, got {type(value).__name__}"]
    declared = fields(model)
    found = [f"{path}.{key}: not a field of {model.__qualname__}" for key in value if key not in declared]
    for name, hint in declared.items():
        where = f"{path}.{name}" if path else name
        if name not in value:
            if not is_optional(hint) or where in required:
                found.append(f"{where}: missing")
            continue
        found += _check(value[name], hint, where, required)
    return found


def model_for(object_name: str) -> type:
    """The SDK class for an ``object`` value (``"checkout.session"`` -> ``stripe.checkout.Session``)."""
    module, name = OBJECT_CLASSES[object_name]
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _check(value: Any, hint: Any, path: str, required: frozenset[str]) -> list[str]:
    if hint is Any:
        return []
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None:
            return [] if _NONE in args else [f"{path}: null is not allowed"]
        literals = [arg for arg in args if typing.get_origin(arg) is Literal]
        if literals and str in args:  # an enum: Union[Literal[...], str] accepts only the listed values
            allowed = {v for lit in literals for v in typing.get_args(lit)}
            return [] if value in allowed else [f"{path}: {value!r} not in {sorted(map(str, allowed))}"]
        attempts = [_check(value, arg, path, required) for arg in args if arg is not _NONE]
        return [] if any(not a for a in attempts) else min(attempts, key=len)
    if value is None:
        return [f"{path}: null is not allowed"]
    if origin is Literal:
        return [] if value in args else [f"{path}: {value!r} not in {list(args)}"]
    if origin in (list, typing.List):  # noqa: UP006
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        return [p for i, item in enumerate(value) for p in _check(item, args[0], f"{path}[{i}]", required)]
    if origin in (dict, typing.Dict) or origin is UntypedStripeObject or hint is UntypedStripeObject:  # noqa: UP006
        if not isinstance(value, dict):
            return [f"{path}: expected a hash, got {type(value).__name__}"]
        inner = args[-1] if args else Any
        if inner is Any and value.get("object") in OBJECT_CLASSES:  # an event's data.object
            return problems(value, model_for(value["object"]), path, required)
        return [p for k, item in value.items() for p in _check(item, inner, f"{path}[{k}]", required)]
    if isinstance(hint, type) and issubclass(hint, stripe.ListObject) or origin is stripe.ListObject:
        item_model = args[0] if args else Any
        if not isinstance(value, dict) or value.get("object") != "list":
            return [f"{path}: expected a list object"]
        extra = set(value) - {"object", "data", "has_more", "url"}
        found = [f"{path}: unexpected list keys {sorted(extra)}"] if extra else []
        for i, item in enumerate(value.get("data", [])):
            found += _check(item, item_model, f"{path}.data[{i}]", required)
        return found
    if isinstance(hint, type) and issubclass(hint, StripeObject):
        return problems(value, hint, path, required)
    return _scalar(value, hint, path)


def _scalar(value: Any, hint: Any, path: str) -> list[str]:
    expected: tuple[type, ...]
    if hint is bool:
        expected = (bool,)
    elif hint is int:
        expected = (int,)
    elif hint is float:
        expected = (int, float)
    elif hint is str:
        expected = (str,)
    elif hint is decimal.Decimal:
        expected = (str,)  # decimals travel as strings ("1250")
    elif hint is datetime.datetime:
        expected = (int,)
    else:
        return [f"{path}: cannot check type {hint}"]
    if isinstance(value, bool) and bool not in expected:
        return [f"{path}: expected {hint.__name__}, got bool"]
    return (
        []
        if isinstance(value, expected)
        else [f"{path}: expected {hint.__name__}, got {type(value).__name__}"]
    )
