"""Snippets: the part of a chunk with the most query words, those words marked `**like this**`."""

from __future__ import annotations

from collections.abc import Collection

from resources.tokenizer import TOKEN_PATTERN, stem_words

MARK = "**"


def matched_spans(text: str, query_tokens: Collection[str]) -> list[tuple[int, int]]:
    """(start, end) of each word in `text` whose token (stemmed, lowercased) is one of `query_tokens`."""
    if not query_tokens:
        return []
    words = list(TOKEN_PATTERN.finditer(text))
    stems = stem_words([m.group(0) for m in words])
    return [(m.start(), m.end()) for m, stem in zip(words, stems, strict=True) if stem in query_tokens]


def coverage(text: str, query_tokens: Collection[str]) -> float:
    """Share of the distinct query tokens that occur in `text` (0 when the query has none)."""
    wanted = set(query_tokens)
    if not wanted:
        return 0.0
    found = set(stem_words(TOKEN_PATTERN.findall(text)))
    return len(wanted & found) / len(wanted)


def highlight(text: str, query_tokens: Collection[str], limit: int = 220) -> str:
    """One line of at most ~`limit` characters around the densest run of query words, those words marked."""
    flat = " ".join((text or "").split())
    spans = matched_spans(flat, query_tokens)
    start = 0
    if spans and len(flat) > limit:
        # the window [s, s + limit) that holds the most matches, starting at a match
        best, count = 0, 0
        for i, (s, _) in enumerate(spans):
            n = sum(1 for s2, e2 in spans[i:] if e2 <= s + limit)
            if n > count:
                best, count = s, n
        start = max(0, best - limit // 5)
        space = flat.rfind(" ", 0, start)
        start = space + 1 if start and space >= 0 else start
    end = min(len(flat), start + limit)
    if end < len(flat):
        space = flat.rfind(" ", start, end)
        end = space if space > start + limit // 2 else end
    out, cursor = [], start
    for s, e in spans:
        if s < start or e > end:
            continue
        out += [flat[cursor:s], MARK, flat[s:e], MARK]
        cursor = e
    out.append(flat[cursor:end])
    body = "".join(out)
    return ("…" if start else "") + body + ("…" if end < len(flat) else "")
