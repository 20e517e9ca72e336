"""Apify Website Content Crawler dataset items: crawled pages, re-crawls and the mess real crawls carry."""

from __future__ import annotations

import copy
import math
from datetime import datetime, timedelta
from typing import Any

from resources.tavily import slugify
from tools.sample_factory.anchors import ANCHOR_PAGES
from tools.sample_factory.corpus import FOREIGN_PAGES, TOPICS
from tools.sample_factory.layout import ITEMS_PER_RUN, MessPicker, batch_layout, insert_randomly, iso_ms
from tools.sample_factory.vocabulary import SITES
from tools.sample_factory.writer import LONG_DOC_CHARS, Writer, fill


def _wcc_item(w: Writer, loaded: datetime) -> dict[str, Any]:
    topic = w.rng.choice(TOPICS)
    ctx = w.context()
    host, site_name, section = w.rng.choice(SITES)
    title = w.title(topic, ctx)
    first, last, _ = w.person()
    author = w.full_name(first, last)
    paragraphs = w.paragraphs(topic, ctx, author)
    url = w.unique_url(f"https://{host}/{section}/{slugify(title)}")
    published = loaded - timedelta(days=w.rng.randrange(3, 400), minutes=w.rng.randrange(1440))
    return _wcc_page(w, url, f"{title} | {site_name}", title, paragraphs, author, published, loaded, "en")


def _wcc_page(
    w: Writer,
    url: str,
    page_title: str,
    heading: str,
    paragraphs: list[str],
    author: str | None,
    published: datetime,
    loaded: datetime,
    language: str,
) -> dict[str, Any]:
    """A crawled page exactly as the Website Content Crawler stores it in its dataset."""
    root = url.split("/", 3)[:3]
    is_blog = w.rng.random() < 0.7
    metadata: dict[str, Any] = {
        "canonicalUrl": url,
        "title": page_title,
        "description": paragraphs[0].split(". ", 1)[0][:300],
        "author": author if is_blog and w.rng.random() < 0.5 else None,
        "keywords": None,
        "languageCode": language,
        "openGraph": [
            {"property": "og:title", "content": heading},
            {"property": "og:type", "content": "article" if is_blog else "website"},
            {"property": "og:url", "content": url},
        ],
        "headers": {"content-type": "text/html; charset=utf-8", "server": "cloudflare"},
    }
    if is_blog:
        metadata["openGraph"].append({"property": "article:published_time", "content": published.isoformat()})
        metadata["jsonLd"] = [
            {
                "@context": "https://schema.org",
                "@type": "BlogPosting",
                "headline": heading,
                "datePublished": iso_ms(published),
                "author": {"@type": "Person", "name": author},
            }
        ]
    return {
        "url": url,
        "crawl": {
            "loadedUrl": url,
            "loadedTime": iso_ms(loaded),
            "referrerUrl": "/".join(root) + "/",
            "depth": w.rng.randrange(1, 4),
            "httpStatusCode": 200,
        },
        "metadata": metadata,
        "screenshotUrl": None,
        "text": heading + "\n" + "\n\n".join(paragraphs),
        "markdown": f"# {heading}\n\n" + "\n\n".join(paragraphs),
    }


def _wcc_htmlize(item: dict[str, Any]) -> None:
    lines = [line for line in item["text"].split("\n") if line]
    body = "".join(f"<p>{line.replace(' and ', ' &amp; ', 1)}</p>\n" for line in lines[1:])
    item["text"] = f"<h1>{lines[0]}</h1>\n<script>window.dataLayer=[];</script>{body}<br/>&copy; 2026"


def _wcc_later(item: dict[str, Any], days: int) -> dict[str, Any]:
    copy_ = copy.deepcopy(item)
    loaded = datetime.fromisoformat(item["crawl"]["loadedTime"]) + timedelta(days=days, minutes=7)
    copy_["crawl"]["loadedTime"] = iso_ms(loaded)
    return copy_


def website_content_runs(w: Writer, count: int, messy: bool) -> list[list[Any]]:
    layout = batch_layout(count, max(2, math.ceil(count / ITEMS_PER_RUN)), 0)
    loaded = [
        layout.times[layout.batch_of(i)] + timedelta(seconds=37 * i, milliseconds=w.rng.randrange(30_000))
        for i in range(count)
    ]
    items: list[Any] = [_wcc_item(w, loaded[i]) for i in range(count)]
    for i, (url, title, author, paragraphs) in enumerate(ANCHOR_PAGES):
        published = loaded[i] - timedelta(days=12)
        page = _wcc_page(
            w, url, f"{title} | Sophia AI Blog", title, list(paragraphs), author, published, loaded[i], "en"
        )
        items[i] = page
    if not messy:
        return layout.group(items)
    pick = MessPicker(w.rng, count)
    for i in pick.take(0.05):
        _wcc_htmlize(items[i])
    for i in pick.take(0.05):
        items[i]["metadata"].update(title=None, description=None, author=None, openGraph=None)
        items[i]["markdown"] = None
        items[i]["metadata"].pop("jsonLd", None)
    for n, i in enumerate(pick.take(0.03, minimum=len(FOREIGN_PAGES))):
        language, slug, title_tpl, text_tpl = FOREIGN_PAGES[n % len(FOREIGN_PAGES)]
        ctx = w.context()
        title, text = fill(title_tpl, ctx), fill(text_tpl, ctx)
        url = w.unique_url(f"https://www.sophia-ai.com/{language}/blog/{slug}")
        page = _wcc_page(w, url, title, title, text.split("\n\n"), None, loaded[i], loaded[i], language)
        items[i] = page
    for i in pick.take(0.01, minimum=2):
        topic = w.rng.choice(TOPICS)
        heading = f"{topic.name}: the complete reference guide"
        url = w.unique_url(f"https://docs.sophia-ai.com/reference/{topic.slug}-complete-guide")
        body = w.long_paragraphs(topic, LONG_DOC_CHARS)
        items[i] = _wcc_page(w, url, heading, heading, body, None, loaded[i], loaded[i], "en")
    for i in pick.take(0.005):  # (uncertain shape) text only under metadata
        items[i]["metadata"]["text"] = items[i].pop("text")
    for i in pick.take(0.005):  # text null, markdown only
        items[i]["text"] = None
    for i in pick.take(0.005):
        items[i]["metadata"]["title"] = 2026
    for i in pick.take(0.005):
        items[i]["crawl"] = items[i]["crawl"]["loadedUrl"]
    for i in pick.take(0.005):
        items[i]["metadata"]["jsonLd"] = [{"@type": "Article", "datePublished": "last Tuesday"}]
        items[i]["metadata"]["openGraph"] = [{"property": "og:title", "content": "Untitled"}]
    for i in pick.take(0.005):
        items[i].update(url=None, crawl={"depth": 1}, metadata={**items[i]["metadata"], "canonicalUrl": None})
    for i in pick.take(0.005):
        items[i].update(text="", markdown=None)
    for i in pick.take(0.005):
        items[i].update(text="<div>\n  <br/>\n</div>", markdown="")
    for i in pick.take(0.005):
        items[i]["crawl"]["httpStatusCode"] = 404
        items[i]["metadata"]["title"] = "Page not found"
    runs = layout.group(items)
    last = len(runs) - 1
    not_last = lambda i: layout.batch_of(i) < last  # noqa: E731
    for i in pick.take(0.01, where=not_last):  # re-crawled, unchanged
        insert_randomly(w.rng, runs[layout.batch_of(i) + 1], _wcc_later(items[i], 1))
    for i in pick.take(0.01, where=not_last):  # re-crawled, changed text, URL seen with utm/fragment/slash
        later = _wcc_later(items[i], 1)
        later["url"] = later["crawl"]["loadedUrl"] = items[i]["url"] + "/?utm_source=newsletter#pricing"
        later["metadata"]["canonicalUrl"] = None
        later["text"] += "\n\nUpdate: the numbers above were re-measured after the latest driver release."
        insert_randomly(w.rng, runs[layout.batch_of(i) + 1], later)
    junk: list[Any] = [
        "Error: page could not be loaded (net::ERR_CONNECTION_RESET)",
        ["https://www.sophia-ai.com/blog", "https://www.sophia-ai.com/pricing"],
    ]
    for k in range(max(1, round(count * 0.005))):
        for value in junk:
            insert_randomly(w.rng, runs[k % len(runs)], value)
    return runs
