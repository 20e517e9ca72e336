"""PhantomBuster LinkedIn Search Export result rows: one array per container, with errors and nulls."""

from __future__ import annotations

import copy
import math
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

from tools.sample_factory.corpus import TOPIC_BY_SLUG
from tools.sample_factory.layout import ITEMS_PER_RUN, MessPicker, batch_layout, insert_randomly, iso_ms
from tools.sample_factory.vocabulary import COMPANIES, LOCATIONS, PERSONAS
from tools.sample_factory.writer import Writer, fill


def _pb_row(w: Writer, when: datetime) -> dict[str, Any]:
    rng = w.rng
    first, last, stem = w.person()
    role, _, topic_slugs = rng.choice(PERSONAS)
    topic = TOPIC_BY_SLUG[rng.choice(topic_slugs)]
    company = rng.choice(COMPANIES[:-1])[0]
    ctx = {**w.context(), "company": company}
    past_role, past_company = (
        rng.choice(("Senior Data Engineer", "ML Engineer", "Solutions Architect")),
        rng.choice(COMPANIES)[0],
    )
    keywords = rng.choice((role, f"{role} {topic.skills[0]}", topic.skills[0]))
    url = f"https://www.linkedin.com/in/{w.public_id(stem)}"
    full = w.full_name(first, last)
    summary = " ".join(fill(s, ctx) for s in rng.sample(topic.sentences, 2))
    return {
        "profileUrl": url,
        "fullName": full,
        "firstName": first,
        "lastName": last,
        "profileImageUrl": f"https://media.licdn.com/dms/image/v2/{w.token(16)}/profile-displayphoto-shrink_100_100/0/",
        "job": f"{role} at {company}",
        "currentJob": f"{role} at {company}",
        "pastJob": f"{past_role} at {past_company}",
        "location": rng.choice(LOCATIONS),
        "connectionDegree": rng.choice(("2nd", "2nd", "3rd+", "1st")),
        "sharedConnections": f"{rng.randrange(1, 40)} shared connections",
        "additionalInfo": f"Summary: {summary} Skills: {', '.join(topic.skills)}",
        "url": url,
        "name": full,
        "query": f"https://www.linkedin.com/search/results/people/?keywords={quote_plus(keywords)}",
        "category": "People",
        "timestamp": iso_ms(when),
    }


def phantombuster_runs(w: Writer, count: int, messy: bool) -> list[list[Any]]:
    layout = batch_layout(count, max(2, math.ceil(count / ITEMS_PER_RUN)), 4)
    when = [
        layout.times[layout.batch_of(i)] + timedelta(seconds=11 * i, milliseconds=w.rng.randrange(9_000))
        for i in range(count)
    ]
    items: list[Any] = [_pb_row(w, when[i]) for i in range(count)]
    if not messy:
        return layout.group(items)
    pick = MessPicker(w.rng, count)
    for i in pick.take(0.05):
        items[i]["sharedConnections"] = w.rng.randrange(1, 40)
    for i in pick.take(0.01):
        items[i]["timestamp"] = int(when[i].timestamp() * 1000)
    for i in pick.take(0.03):
        items[i]["job"] = items[i]["job"].replace(" at ", " &amp; AI at ", 1)
    for i in pick.take(0.01):
        items[i]["fullName"] = items[i]["name"] = None
    for i in pick.take(0.01):
        items[i]["profileUrl"] = None
    for i in pick.take(0.01):
        items[i].update(location=None, pastJob=None, sharedConnections=None, profileImageUrl=None)
    for i in pick.take(0.005):
        items[i].update(job=None, currentJob=None, pastJob=None, additionalInfo=None)
    runs = layout.group(items)
    last = len(runs) - 1
    not_last = lambda i: layout.batch_of(i) < last  # noqa: E731
    for i in pick.take(0.01, where=not_last):
        again = copy.deepcopy(items[i])
        again["timestamp"] = iso_ms(when[i] + timedelta(days=1))
        insert_randomly(w.rng, runs[layout.batch_of(i) + 1], again)
    for i in pick.take(0.01, where=not_last):
        later = copy.deepcopy(items[i])
        later["timestamp"] = iso_ms(when[i] + timedelta(days=1))
        later["job"] = later["currentJob"] = f"Chief Technology Officer at {COMPANIES[w.rng.randrange(5)][0]}"
        insert_randomly(w.rng, runs[layout.batch_of(i) + 1], later)
    for k in range(max(1, round(count * 0.005))):
        error = {
            "query": items[0]["query"],
            "error": "Can't connect to LinkedIn with this session cookie.",
            "timestamp": iso_ms(layout.times[k % len(runs)]),
        }
        insert_randomly(w.rng, runs[k % len(runs)], error)
        insert_randomly(w.rng, runs[(k + 1) % len(runs)], None)
    return runs
