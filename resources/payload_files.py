"""Local payload files: parse one file into items (or say why it cannot land), and check the samples layout.

Layout: `<root>/<system>/<stream>/<batch_id>.json`, except flat systems (Tavily): `<root>/<system>/<batch_id>.json`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, NoReturn

import orjson

FLAT_SYSTEMS = frozenset({"tavily"})  # files sit directly in the system's folder (one stream)
PAYLOAD_SUFFIX = ".json"
MAX_REASON_CHARS = 300

_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


class PayloadFileError(ValueError):
    """A payload file whose content can never land as it is; the message is the reason (never the content)."""


def stream_folder(root: Path, system: str, stream: str) -> Path:
    return root / system if system in FLAT_SYSTEMS else root / system / stream


def _json_type(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def _reject_constant(name: str) -> NoReturn:
    raise PayloadFileError(f"invalid JSON: non-standard constant {name}")


def _clip(text: str) -> str:
    return " ".join(text.split())[:MAX_REASON_CHARS]


def parse_payload(raw: bytes, flat: bool) -> list[Any]:
    """The items of one file: a JSON array of items, or (flat systems) one response object as a one-item list.

    Raises `PayloadFileError` for anything that cannot land: empty, not UTF-8, not JSON (incl. NaN/Infinity),
    nested too deeply, too large, or the wrong top-level type. Parsing is deterministic, so none of these is
    worth retrying.
    """
    if not raw.strip():
        raise PayloadFileError("empty file")
    try:  # fast path: orjson accepts only strict UTF-8 JSON; anything it refuses takes the checked path below
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _parse_checked(raw, flat)
    return _items(data, flat)


def _parse_checked(raw: bytes, flat: bool) -> list[Any]:
    """`parse_payload` with the stdlib parser, naming what is wrong with the file."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadFileError(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except PayloadFileError:
        raise
    except json.JSONDecodeError as exc:
        raise PayloadFileError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise PayloadFileError("JSON nested too deeply to parse") from None
    except MemoryError:
        raise PayloadFileError("too large to parse in memory") from None
    except Exception as exc:  # e.g. an integer longer than Python's digit limit
        raise PayloadFileError(_clip(f"cannot parse JSON: {type(exc).__name__}: {exc}")) from None
    return _items(data, flat)


def _items(data: Any, flat: bool) -> list[Any]:
    if flat:
        if not isinstance(data, dict):
            raise PayloadFileError(f"must hold one JSON object (a search response), got {_json_type(data)}")
        return [data]
    if not isinstance(data, list):
        raise PayloadFileError(f"must hold a JSON array of items, got {_json_type(data)}")
    return data


def _entries(folder: Path, root: Path, warnings: list[str]) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        warnings.append(f"{_rel(folder, root)}: cannot list folder ({exc.strerror or type(exc).__name__})")
        return []


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _stray(entry: Path, root: Path, what: str) -> str:
    kind = "folder" if entry.is_dir() else "file"
    return f"ignored {kind} {_rel(entry, root)} under {root}: {what}"


def sample_layout_warnings(root: Path, layout: Mapping[str, Collection[str]]) -> list[str]:
    """One message per path under `root` that no stream reads, naming it (`layout`: system -> its streams).

    Stray files at the top level, unknown system folders, unknown stream folders, and anything in a stream folder
    that is not a `*.json` payload. Missing stream folders are not reported (that stream simply has no data).
    """
    if not root.is_dir():
        return [f"no samples folder at {root}: every stream has no data"]
    warnings: list[str] = []
    expected_systems = ", ".join(sorted(layout))
    for entry in _entries(root, root, warnings):
        if entry.name not in layout:
            what = "a file at the top level" if not entry.is_dir() else "an unknown source folder"
            warnings.append(_stray(entry, root, f"{what} (sources: {expected_systems})"))
        elif not entry.is_dir():
            warnings.append(_stray(entry, root, "expected a folder of this name"))
    for system, streams in sorted(layout.items()):
        system_dir = root / system
        if not system_dir.is_dir():
            continue
        folders = [system_dir]
        if system not in FLAT_SYSTEMS:
            folders = []
            for entry in _entries(system_dir, root, warnings):
                if entry.name in streams and entry.is_dir():
                    folders.append(entry)
                elif entry.is_dir():
                    warnings.append(_stray(entry, root, f"an unknown {system} stream (streams: {', '.join(streams)})"))
                else:
                    warnings.append(_stray(entry, root, f"payload files belong in a stream folder of {system}/"))
        for folder in folders:
            for entry in _entries(folder, root, warnings):
                if not entry.name.endswith(PAYLOAD_SUFFIX):
                    what = "stream folders hold only *.json payload files"
                    warnings.append(_stray(entry, root, what))
    return warnings
