"""The seeded text and value generator shared by every stream, and its template helpers."""

from __future__ import annotations

import random
import string

from resources.tavily import slugify
from tools.sample_factory.corpus import GLUE, Topic
from tools.sample_factory.vocabulary import (
    CJK_NAMES,
    CLOUDS,
    COMPANIES,
    EU_REGIONS,
    FIRST_NAMES,
    GPUS,
    LAST_NAMES,
    MONTHS,
    REGIONS,
    SMALL_GPUS,
    VECTOR_DBS,
)

ALNUM = string.ascii_letters + string.digits
LONG_DOC_CHARS = 52_000
_PROPER_WORDS = frozenset({"Kubernetes", "Snowflake", "Iceberg", "Sophia", "Dagster"})


def phrase(name: str) -> str:
    """A topic name for use mid-sentence: 'Selling AI infrastructure' -> 'selling AI infrastructure'."""
    word = name.split(" ", 1)[0]
    if word in _PROPER_WORDS or not word[1:].islower():
        return name
    return name[0].lower() + name[1:]


def fill(template: str, ctx: dict[str, str]) -> str:
    """Format a template with a document context; 'Games's' becomes "Games'"."""
    return template.format_map(ctx).replace("s's ", "s' ")


class Writer:
    """Seeded text and value generator: one `context()` per document keeps its facts consistent."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._used_urls: set[str] = set()
        self._used_ids: set[str] = set()

    def token(self, length: int, alphabet: str = ALNUM) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def uuid4(self) -> str:
        hexa = "0123456789abcdef"
        return "-".join((self.token(8, hexa), self.token(4, hexa), "4" + self.token(3, hexa),
                         "a" + self.token(3, hexa), self.token(12, hexa)))  # fmt: skip

    def unique_id(self, length: int, alphabet: str = ALNUM) -> str:
        while True:
            value = self.token(length, alphabet)
            if value not in self._used_ids and value[0] != "0":
                self._used_ids.add(value)
                return value

    def unique_url(self, base: str) -> str:
        url, k = base, 1
        while url in self._used_urls:
            k += 1
            url = f"{base}-{k}"
        self._used_urls.add(url)
        return url

    def public_id(self, stem: str) -> str:
        """A LinkedIn public identifier: the name stem plus a unique 8-character hex-like suffix."""
        return f"{stem}-{self.unique_id(8, string.digits + 'abcdef')}"

    def context(self) -> dict[str, str]:
        rng = self.rng
        gpu = rng.choice(sorted(GPUS))
        low, high = GPUS[gpu]
        dim = rng.choice((384, 768, 1024, 1536, 3072))
        month = rng.randrange(14)  # January 2025 .. February 2026, all before BASE_TIME
        return {
            "company": rng.choice(COMPANIES[:-1])[0],
            "gpu": gpu,
            "gpu2": rng.choice(SMALL_GPUS),
            "cloud": rng.choice(CLOUDS),
            "region": rng.choice(REGIONS),
            "region_eu": rng.choice(EU_REGIONS),
            "db": rng.choice(VECTOR_DBS),
            "price": f"{rng.uniform(low, high):.2f}",
            "n": str(rng.choice((12, 16, 24, 40, 64, 120, 250, 400, 800))),
            "nodes": str(rng.choice((2, 4, 8, 16, 32))),
            "size": str(rng.choice((7, 8, 13, 34, 70))),
            "small": str(rng.choice((1, 3))),
            "tps": str(rng.randrange(800, 4200, 50)),
            "pct": str(rng.randrange(18, 72)),
            "pct2": str(rng.randrange(5, 17)),
            "ms": str(rng.randrange(12, 240)),
            "recall": str(rng.randrange(90, 99)),
            "ef": str(rng.choice((64, 128, 256, 512))),
            "dim": str(dim),
            "bytes": str(dim * 4),
            "hours": str(rng.choice((2, 4, 6, 12, 24))),
            "days": str(rng.choice((30, 60, 90, 180, 365))),
            "mins": str(rng.choice((10, 15, 30))),
            "weeks": str(rng.choice((2, 3, 4, 6))),
            "year": str(2025 + month // 12),
            "month": MONTHS[month % 12],
        }

    def title(self, topic: Topic, ctx: dict[str, str]) -> str:
        return fill(self.rng.choice(topic.titles), ctx)

    def paragraphs(self, topic: Topic, ctx: dict[str, str], person: str) -> list[str]:
        """3-4 paragraphs: most topic sentences once (shuffled), an intro, a glue line and a contact line."""
        keep = max(4, len(topic.sentences) - self.rng.randrange(3))
        sentences = [fill(s, ctx) for s in self.rng.sample(topic.sentences, keep)]
        groups = max(3, min(4, len(sentences) // 2))
        chunks = [sentences[i::groups] for i in range(groups)]
        intro = f"This article looks at {phrase(topic.name)} at {ctx['company']} in {ctx['month']} {ctx['year']}."
        chunks[0].insert(0, intro)
        chunks[-1].append(fill(self.rng.choice(GLUE), ctx))
        chunks[-1].append(f"Questions about this work can go to {person}, who led the project.")
        return [" ".join(chunk) for chunk in chunks]

    def long_paragraphs(self, topic: Topic, min_chars: int) -> list[str]:
        """Numbered reference sections on one topic until the text exceeds `min_chars`."""
        out: list[str] = []
        size, section = 0, 0
        while size < min_chars:
            section += 1
            ctx = self.context()
            heading = f"Section {section}: {self.title(topic, ctx)}"
            body = " ".join(fill(s, ctx) for s in self.rng.sample(topic.sentences, len(topic.sentences)))
            out += [heading, body]
            size += len(heading) + len(body) + 4
        return out

    def person(self) -> tuple[str, str, str]:
        """(first, last, public-identifier stem); about one in eight names is written in a CJK script."""
        if self.rng.random() < 0.12:
            first, last, rom_first, rom_last = self.rng.choice(CJK_NAMES)
            return first, last, slugify(f"{rom_first} {rom_last}")
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        return first, last, slugify(f"{first} {last}")

    def full_name(self, first: str, last: str) -> str:
        return f"{last}{first}" if first[0] > "\u2e80" else f"{first} {last}"
