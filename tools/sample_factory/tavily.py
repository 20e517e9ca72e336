"""Tavily /search responses: one per query, results sorted by score, plus an over-long query's error."""

from __future__ import annotations

import copy
import math
from datetime import datetime, timedelta
from typing import Any

from resources.tavily import slugify
from tools.sample_factory.anchors import ANCHOR_RESULT
from tools.sample_factory.corpus import TOPICS, Topic
from tools.sample_factory.layout import MessPicker, batch_layout
from tools.sample_factory.vocabulary import NEWS_SITES, TAVILY_MODIFIERS
from tools.sample_factory.writer import LONG_DOC_CHARS, Writer, fill

RESULTS_PER_SEARCH = 10


def _tavily_result(w: Writer, topic: Topic, news: bool, raw: bool, when: datetime) -> dict[str, Any]:
    ctx = w.context()
    title = w.title(topic, ctx)
    host = w.rng.choice(NEWS_SITES)
    url = w.unique_url(f"https://{host}/{slugify(topic.name)}/{slugify(title)}")
    sentences = [fill(s, ctx) for s in w.rng.sample(topic.sentences, len(topic.sentences))]
    result: dict[str, Any] = {
        "title": title,
        "url": url,
        "content": " ".join(sentences[:2]),
        "score": round(w.rng.uniform(0.35, 0.92), 5),
        "raw_content": f"{title}\n\n" + "\n\n".join(" ".join(sentences[k::3]) for k in range(3)) if raw else None,
        "favicon": f"https://{host}/favicon.ico",
    }
    if news:
        published = when - timedelta(days=w.rng.randrange(1, 40), minutes=w.rng.randrange(1440))
        result["published_date"] = published.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return result


def _tavily_queries(count: int) -> list[tuple[Topic, str]]:
    out = [(topic, topic.query) for topic in TOPICS]
    k = 0
    while len(out) < count:
        topic = TOPICS[k % len(TOPICS)]
        out.append((topic, f"{topic.query} {TAVILY_MODIFIERS[(k // len(TOPICS)) % len(TAVILY_MODIFIERS)]}"))
        k += 1
    return out


def tavily_responses(w: Writer, count: int, messy: bool) -> dict[str, Any]:
    searches = max(6, math.ceil(count / RESULTS_PER_SEARCH))
    layout = batch_layout(count, searches, 6)
    queries = _tavily_queries(len(TOPICS) + searches)
    order = [0, *w.rng.sample(range(1, len(TOPICS)), len(TOPICS) - 1), *range(len(TOPICS), len(queries))]
    plan = [queries[order[b]] + (w.rng.random() < 0.4, w.rng.random() < 0.7) for b in range(searches)]
    items: list[Any] = []
    for i in range(count):
        b = layout.batch_of(i)
        topic, _, news, raw = plan[b]
        items.append(_tavily_result(w, topic, news, raw, layout.times[b]))
    items[0].update(ANCHOR_RESULT, score=0.97213)
    pick = MessPicker(w.rng, count) if messy else None
    if pick:
        for i in pick.take(0.05):
            text = items[i]["raw_content"] or items[i]["content"]
            html = "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
            items[i]["raw_content"] = (
                f"<article><h2>{items[i]['title']}</h2>{html}<footer>&copy; 2026</footer></article>"
            )
        for i in pick.take(0.005):
            topic = plan[layout.batch_of(i)][0]
            items[i]["raw_content"] = "\n\n".join(w.long_paragraphs(topic, LONG_DOC_CHARS))
        for i in pick.take(0.01):
            items[i]["title"] = None
        for i in pick.take(0.01):
            items[i]["score"] = str(items[i]["score"])
        for i in pick.take(0.01):
            items[i]["published_date"] = "3 days ago"
        for i in pick.take(0.005):
            items[i].update(content="", raw_content=None)
        for i in pick.take(0.005):
            items[i]["url"] = None
        for i in pick.take(0.005):
            items[i] = f"{items[i]['title']} - {items[i]['url']}"
    groups = layout.group(items)
    if pick:
        for i in pick.take(0.01, where=lambda i: layout.batch_of(i) < searches - 1):
            target = groups[layout.batch_of(i) + 1]
            target.insert(w.rng.randrange(len(target) + 1), copy.deepcopy(items[i]))
    files: dict[str, Any] = {}
    for b, (topic, query, _news, raw) in enumerate(plan):
        results = sorted(groups[b], key=lambda r: -float(r["score"]) if isinstance(r, dict) else 0.0)
        response_time: float | str = round(w.rng.uniform(0.6, 3.2), 2)
        if messy and b == 1:
            response_time = str(response_time)
        answer = None
        if w.rng.random() < 0.5:
            answer = " ".join(fill(s, w.context()) for s in w.rng.sample(topic.sentences, 2))
        base = slug = slugify(query)
        repeat = 1
        while slug in files:  # the same query again (large corpora): numbered, so names stay short
            repeat += 1
            slug = f"{base}-{repeat}"
        files[slug] = {
            "query": query,
            "follow_up_questions": None,
            "answer": answer,
            "images": [],
            "results": results,
            "response_time": response_time,
            "usage": {"credits": 2 if raw else 1},
            "request_id": w.uuid4(),
        }
    if messy:  # a query over Tavily's 400-character limit: the API answers with an error object
        too_long = "AI infrastructure market map: " + ", ".join(t.name for t in TOPICS)
        files[slugify(too_long)] = {"detail": {"error": "Query is too long. Max query length is 400 characters."}}
    return files
