"""Helpers shared by the per-source normalizers: text cleanup, URL canonicalization, coercions, dates.

Everything here is pure and total: bad input gives `None` or an empty string, never an exception.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sophia_pipelines.domain.documents import (
    Document,
    NormalizeResult,
    RawRecord,
    Rejection,
    content_hash,
    make_document_id,
)

# --- text ----------------------------------------------------------------------------------------------

_MARKUP = re.compile(r"<[A-Za-z/!]")
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\u200b\ufeff]")

_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "head"})
_PARAGRAPH_TAGS = frozenset(
    {
        "p", "div", "section", "article", "header", "footer", "aside", "main", "nav", "blockquote", "pre",
        "table", "ul", "ol", "dl", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "form",
    }
)  # fmt: skip
_LINE_TAGS = frozenset({"br", "tr", "dt", "dd", "li"})


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment; block elements become line or paragraph breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        self._break(tag)
        if tag == "li":
            self.parts.append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        if tag != "li":  # the next <li> (or the list's end) breaks the line
            self._break(tag)

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)

    def _break(self, tag: str) -> None:
        if tag in _PARAGRAPH_TAGS:
            self.parts.append("\n\n")
        elif tag in _LINE_TAGS:
            self.parts.append("\n")


def html_to_text(fragment: str) -> str:
    """Text content of an HTML fragment (entities unescaped, script/style dropped), not yet tidied."""
    parser = _TextExtractor()
    try:
        parser.feed(fragment)
        parser.close()
    except Exception:  # html.parser is lenient; this is a last resort for pathological input
        return unescape(re.sub(r"<[^>]*>", " ", fragment))
    return "".join(parser.parts)


def clean_text(value: str) -> str:
    """HTML fragments to text, Unicode NFC, whitespace collapsed; paragraph breaks kept as one blank line."""
    if _MARKUP.search(value):
        value = html_to_text(value)
    elif "&" in value:
        value = unescape(value)
    if not value.isascii() and not unicodedata.is_normalized("NFC", value):
        value = unicodedata.normalize("NFC", value)
    lines: list[str] = []
    gap = False
    for raw_line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not raw_line.isprintable():  # tabs, controls, zero-width and BOM characters
            raw_line = _INVISIBLE.sub("", raw_line)
        line = " ".join(raw_line.split())
        if not line:
            gap = True
            continue
        if gap and lines:
            lines.append("")
        lines.append(line)
        gap = False
    return "\n".join(lines)


def clean_inline(value: str) -> str:
    """`clean_text` squeezed onto one line (titles, names, short fields)."""
    if value.isascii() and value.isprintable() and "&" not in value and not _MARKUP.search(value):
        return " ".join(value.split())
    return " ".join(clean_text(value).split())


def coerce_str(value: Any) -> str | None:
    """A cleaned one-line string from a string or number; None for empty or other types."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, str):
        return clean_inline(value) or None
    return None


def coerce_text(value: Any) -> str:
    """Cleaned multi-line text from a string (or a list of strings); '' for anything else."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return clean_text("\n\n".join(v for v in value if isinstance(v, str)))
    return ""


def coerce_int(value: Any) -> int | None:
    """An int from int/float/strings like "500+", "1,204", "1.2K"; None when it cannot be read."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower().replace(",", "").replace(" ", "").rstrip("+")
    multiplier = 1
    if text.endswith("k"):
        multiplier, text = 1_000, text[:-1]
    elif text.endswith("m"):
        multiplier, text = 1_000_000, text[:-1]
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number * multiplier) if math.isfinite(number) else None


def first_str(*values: Any) -> str | None:
    """The first value that coerces to a non-empty one-line string."""
    for value in values:
        text = coerce_str(value)
        if text:
            return text
    return None


def person_name(item: dict[str, Any]) -> str | None:
    """fullName, else name, else firstName + lastName (LinkedIn profiles and search-export rows)."""
    first, last = coerce_str(item.get("firstName")), coerce_str(item.get("lastName"))
    return first_str(item.get("fullName"), item.get("name"), join_nonempty((first, last), " "))


def join_nonempty(parts: Iterable[str | None], sep: str) -> str:
    return sep.join(p for p in parts if p)


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def json_type_name(value: Any) -> str:
    """The JSON name of a Python value's type, with its article ("a list", "null")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def not_an_object_reason(value: Any, what: str = "item") -> str:
    return f"{what} is {json_type_name(value)}, expected an object"


# --- URLs ----------------------------------------------------------------------------------------------


_HOST_CHARS = re.compile(r"[\w.-]+")


def _is_hostname(host: str | None) -> bool:
    if not host or host.startswith((".", "-")) or host.endswith("-"):
        return False
    if "." not in host.rstrip(".") and host != "localhost":
        return False
    return _HOST_CHARS.fullmatch(host) is not None


def canonical_url(value: Any) -> str | None:
    """Canonical http(s) URL: lowercase scheme and host, no fragment, no utm_* params, no trailing slash.

    A bare `host.tld/path` gets `https://`. Anything that is not a usable web URL gives None.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if " " in text:
        text = text.replace(" ", "%20")
    if text.startswith("//"):
        text = "https:" + text
    elif "://" not in text:
        head = text.split("/", 1)[0]
        if "." not in head or ":" in head or "@" in head:
            return None
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not _is_hostname(host):
        return None
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    query = "&".join(p for p in parts.query.split("&") if p and not p.lower().startswith("utm_"))
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), query, ""))


def canonical_linkedin_url(value: Any) -> str | None:
    """`canonical_url`, plus: any *.linkedin.com host becomes www.linkedin.com; profile URLs lose the query."""
    url = canonical_url(value)
    if url is None:
        return None
    parts = urlsplit(url)
    host = parts.netloc
    if host == "linkedin.com" or host.endswith(".linkedin.com"):
        query = "" if parts.path.startswith("/in/") else parts.query
        return urlunsplit(("https", "www.linkedin.com", parts.path, query, ""))
    return url


# --- dates ---------------------------------------------------------------------------------------------


def to_utc(value: datetime) -> datetime:
    """Tz-aware UTC; a naive datetime is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _from_epoch(number: float) -> datetime | None:
    seconds = number / 1000 if abs(number) >= 1e11 else number  # epoch milliseconds vs seconds
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601, RFC 2822, epoch seconds/milliseconds (number or digits) or datetime -> tz-aware UTC."""
    if isinstance(value, datetime):
        return to_utc(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return _from_epoch(value) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return _from_epoch(int(text))
    try:
        return to_utc(datetime.fromisoformat(text))
    except ValueError:
        pass
    try:
        return to_utc(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None


# --- results -------------------------------------------------------------------------------------------


def build_document(
    record: RawRecord,
    *,
    external_key: str,
    url: str | None,
    title: str | None,
    text: str,
    author: str | None = None,
    published_at: datetime | None = None,
    fetched_at: datetime | None = None,
) -> Document:
    """A Document with its stable id and content hash (the hash ignores fetched_at)."""
    return Document(
        document_id=make_document_id(record.source, external_key),
        source=record.source,
        url=url,
        title=title,
        text=text,
        author=author,
        published_at=published_at,
        fetched_at=fetched_at or to_utc(record.fetched_at),
        content_hash=content_hash(title, text, url, author),
        raw_record_id=record.record_id,
    )


def rejection(record: RawRecord, reason: str, payload: Any) -> Rejection:
    return Rejection(source=record.source, raw_record_id=record.record_id, reason=reason, payload=payload)


def rejected(record: RawRecord, reason: str) -> NormalizeResult:
    """A result holding one rejection of the whole record."""
    return NormalizeResult(rejections=[rejection(record, reason, record.payload)])


def accepted(document: Document) -> NormalizeResult:
    return NormalizeResult(documents=[document])
