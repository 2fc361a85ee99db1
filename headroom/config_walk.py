"""Walking the configuration models and raw YAML data together: which model validates which
mapping (unions resolved by their literal tag), which values are secrets, and every model or value
of a validated configuration with its path."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from headroom.yaml_lines import Path_
from headroom_core import redact
from headroom_core.configtypes import Secret

_SECRET_KEY_SUFFIXES = ("password", "secret", "token", "routing_key", "webhook_url", "api_key")


def register_raw_secrets(data: Any, annotation: Any, key: str = "") -> None:
    """Register, before validation, every value that a model types as ``Secret`` (following the
    models from ``annotation``, unions resolved by their literal tag), values of secret-sounding
    keys, and passwords inside DSNs/URLs."""
    if isinstance(data, dict):
        model = None if is_mapping_type(annotation) else model_for(annotation, data)
        for k, v in data.items():
            child: Any = object
            if model is not None:
                info = model.model_fields.get(str(k))
                child = info.annotation if info is not None else object
            else:
                child = unwrap_model(annotation, want_item=False) if is_mapping_type(annotation) else object
            register_raw_secrets(v, child, str(k))
    elif isinstance(data, list):
        item = unwrap_model(annotation, want_item=True)
        for value in data:
            register_raw_secrets(value, item, key)
    elif isinstance(data, str):
        if is_secret_type(annotation) or key.lower().endswith(_SECRET_KEY_SUFFIXES):
            redact.register_secret_url(data)
        elif "://" in data or "password" in data:
            redact.register_dsn(data)


def is_secret_type(annotation: Any) -> bool:
    if annotation is Secret:
        return True
    return any(is_secret_type(arg) for arg in typing.get_args(annotation))


def is_mapping_type(annotation: Any) -> bool:
    inner = annotation
    for _ in range(3):
        args = [a for a in typing.get_args(inner) if a is not type(None)]
        if typing.get_origin(inner) is dict:
            return True
        if len(args) != 1:
            return False
        inner = args[0]
    return False


def model_for(annotation: Any, raw: Mapping[str, Any]) -> type[BaseModel] | None:
    """The model that validates ``raw`` under ``annotation`` (a union is resolved by literal tags)."""
    candidates: list[Any] = [annotation]
    seen: list[type[BaseModel]] = []
    while candidates:
        current = candidates.pop()
        if isinstance(current, type) and issubclass(current, BaseModel):
            seen.append(current)
            continue
        candidates.extend(typing.get_args(current))
    if len(seen) <= 1:
        return seen[0] if seen else None
    for model in seen:
        tags = {
            name: typing.get_args(info.annotation)
            for name, info in model.model_fields.items()
            if typing.get_origin(info.annotation) is typing.Literal
        }
        if tags and all(raw.get(name) in values for name, values in tags.items()):
            return model
    return None


def model_at(root: type[BaseModel], path: Path_, data: Any) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` of the raw ``data`` (best effort)."""
    annotation: Any = root
    node: Any = data
    for part in path:
        if isinstance(part, int):
            annotation = unwrap_model(annotation, want_item=True)
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            continue
        if is_mapping_type(annotation):
            annotation = unwrap_model(annotation, want_item=False)
        else:
            model = model_for(annotation, node if isinstance(node, dict) else {})
            info = model.model_fields.get(part) if model is not None else None
            if info is None:
                return None
            annotation = info.annotation
        node = node.get(part) if isinstance(node, dict) else None
    if is_mapping_type(annotation):
        return None
    return model_for(annotation, node if isinstance(node, dict) else {})


def unwrap_model(annotation: Any, *, want_item: bool) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in args if arg is not type(None)]
        return unwrap_model(members[0], want_item=want_item) if len(members) == 1 else None
    if origin is typing.Annotated:
        return unwrap_model(args[0], want_item=want_item)
    if want_item and origin in (list, tuple, set, frozenset) and args:
        return args[0]
    if origin is dict and args:
        return args[1]
    return annotation


def walk_models(model: BaseModel, path: Path_) -> Iterator[tuple[BaseModel, Path_]]:
    yield model, path
    for name in type(model).model_fields:
        yield from walk_child_models(getattr(model, name), (*path, name))


def walk_child_models(value: Any, path: Path_) -> Iterator[tuple[BaseModel, Path_]]:
    if isinstance(value, BaseModel):
        yield from walk_models(value, path)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from walk_child_models(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk_child_models(item, (*path, str(key)))


def walk_values(value: Any, path: Path_) -> Iterator[tuple[Path_, Any]]:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from walk_values(getattr(value, name), (*path, name))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from walk_values(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk_values(item, (*path, str(key)))
    else:
        yield path, value
