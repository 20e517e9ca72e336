"""Apify LinkedIn profile scraper dataset items: full profiles, re-scrapes and private or partial ones."""

from __future__ import annotations

import copy
import math
import string
from typing import Any

from resources.tavily import slugify
from tools.sample_factory.anchors import ANCHOR_PROFILE
from tools.sample_factory.corpus import TOPIC_BY_SLUG
from tools.sample_factory.layout import ITEMS_PER_RUN, MessPicker, batch_layout, insert_randomly
from tools.sample_factory.vocabulary import COMPANIES, DEGREES, LOCATIONS, MONTHS, PERSONAS, SCHOOLS
from tools.sample_factory.writer import Writer, fill, phrase


def _experience(w: Writer, role: str, company: str, caption: str, place: str, text: str) -> dict[str, Any]:
    company_id = w.token(8, string.digits)
    return {
        "companyId": company_id,
        "companyUrn": f"urn:li:fsd_company:{company_id}",
        "companyLink1": f"https://www.linkedin.com/company/{company_id}/",
        "logo": f"https://media.licdn.com/dms/image/v2/{w.token(12)}/company-logo_100_100/0/",
        "title": role,
        "subtitle": f"{company} · Full-time",
        "caption": caption,
        "metadata": place,
        "breakdown": False,
        "subComponents": [{"description": [{"type": "textComponent", "text": text}]}],
    }


def _profile(w: Writer, first: str, last: str, public_id: str) -> dict[str, Any]:
    rng = w.rng
    role, team, topic_slugs = rng.choice(PERSONAS)
    topic = TOPIC_BY_SLUG[rng.choice(topic_slugs)]
    ctx = w.context()
    company, industry, size = rng.choice(COMPANIES)
    prev_company = rng.choice([c for c in COMPANIES if c[0] != company])[0]
    location = rng.choice(LOCATIONS)
    years, months = rng.randrange(0, 6), rng.randrange(1, 12)
    duration = f"{years} yrs {months} mos" if years else f"{months} mos"
    start_year = 2026 - years
    sentences = [fill(s, {**ctx, "company": company}) for s in rng.sample(topic.sentences, 4)]
    about = (
        f"I lead the {team} team at {company}, focused on {phrase(topic.name)}. {sentences[0]} {sentences[1]}\n\n"
        f"Before {company} I spent several years at {prev_company}. Happy to talk about "
        f"{', '.join(topic.skills[:3])}."
    )
    headline = f"{role} at {company} | {' · '.join(topic.skills[:2])}"
    url = f"https://www.linkedin.com/in/{public_id}"
    return {
        "linkedinUrl": url,
        "firstName": first,
        "lastName": last,
        "fullName": w.full_name(first, last),
        "headline": headline,
        "connections": rng.randrange(120, 500),
        "followers": rng.randrange(150, 9000),
        "email": None,
        "mobileNumber": None,
        "jobTitle": role,
        "companyName": company,
        "companyIndustry": industry,
        "companyWebsite": f"{slugify(company).replace('-', '')}.com",
        "companyLinkedin": f"linkedin.com/company/{slugify(company)}",
        "companyFoundedIn": rng.randrange(1990, 2022),
        "companySize": size,
        "currentJobDuration": duration,
        "currentJobDurationInYrs": round(years + months / 12, 2),
        "topSkillsByEndorsements": ", ".join(topic.skills[:3]),
        "addressCountryOnly": location.rsplit(", ", 1)[-1],
        "addressWithCountry": location,
        "addressWithoutCountry": location.rsplit(", ", 1)[0],
        "profilePic": f"https://media.licdn.com/dms/image/v2/{w.token(16)}/profile-displayphoto-shrink_100_100/0/",
        "profilePicHighQuality": f"https://media.licdn.com/dms/image/v2/{w.token(16)}/profile-displayphoto-shrink_800_800/0/",
        "about": about,
        "publicIdentifier": public_id,
        "openConnection": None,
        "urn": "ACoAA" + w.token(34),
        "experiences": [
            _experience(
                w,
                role,
                company,
                f"{MONTHS[months][:3]} {start_year} - Present · {duration}",
                f"{location} · Hybrid",
                sentences[2],
            ),
            _experience(
                w,
                rng.choice(("Senior Engineer", "Engineering Manager", "Tech Lead")),
                prev_company,
                f"Jan {start_year - 4} - {MONTHS[months - 1][:3]} {start_year} · 4 yrs",
                rng.choice(LOCATIONS),
                sentences[3],
            ),
        ],
        "updates": [],
        "skills": [{"title": skill, "subComponents": []} for skill in topic.skills],
        "educations": [
            {
                "companyId": w.token(6, string.digits),
                "title": rng.choice(SCHOOLS),
                "subtitle": rng.choice(DEGREES),
                "caption": f"{start_year - 10} - {start_year - 6}",
                "breakdown": False,
                "subComponents": [],
            }
        ],
        "languages": [],
        "licenseAndCertificates": [],
        "honorsAndAwards": [],
        "volunteerAndAwards": [],
        "verifications": [],
        "promos": [],
        "highlights": [],
        "projects": [],
        "publications": [],
        "patents": [],
        "courses": [],
        "testScores": [],
        "organizations": [],
        "volunteerCauses": [],
        "interests": [],
        "recommendations": [],
    }


def linkedin_profile_runs(w: Writer, count: int, messy: bool) -> list[list[Any]]:
    layout = batch_layout(count, max(2, math.ceil(count / ITEMS_PER_RUN)), 2)
    items: list[Any] = []
    for _ in range(count):
        first, last, stem = w.person()
        items.append(_profile(w, first, last, w.public_id(stem)))
    items[0].update(
        ANCHOR_PROFILE, linkedinUrl="https://www.linkedin.com/in/valentina-okonjo", publicIdentifier="valentina-okonjo"
    )
    items[0]["skills"] = [
        {"title": s, "subComponents": []} for s in ANCHOR_PROFILE["topSkillsByEndorsements"].split(", ")
    ]
    items[0]["experiences"][0].update(
        title=ANCHOR_PROFILE["jobTitle"], subtitle="Orchid Telecom · Full-time", subComponents=[]
    )
    speech = "Built the voice analytics pipeline: call recordings, transcription and keyword spotting."
    items[0]["experiences"][1]["subComponents"] = [{"description": [{"type": "textComponent", "text": speech}]}]
    if not messy:
        return layout.group(items)
    pick = MessPicker(w.rng, count)
    for i in pick.take(0.1):
        items[i]["connections"] = "500+"
        items[i]["followers"] = f"{w.rng.randrange(1, 30)},{w.rng.randrange(100, 999)}"
    for i in pick.take(0.05):
        items[i]["about"] = items[i]["about"].replace("\n\n", "<br><br>").replace(", ", " &amp; ", 1)
    for i in pick.take(0.05):
        items[i].update(about=None, experiences=None, email=None, companyIndustry=None)
        items[i].pop("educations")
    for i in pick.take(0.05):
        items[i]["headline"] = "🚀 " + items[i]["headline"] + " | Building GPU clouds ☁️"
    for i in pick.take(0.01):
        items[i]["skills"] = [s["title"] for s in items[i]["skills"]]
    for i in pick.take(0.01):
        items[i]["linkedinUrl"] = None
    for i in pick.take(0.005):
        items[i].update(linkedinUrl=None, publicIdentifier=None)
    for i in pick.take(0.005):
        keep = ("linkedinUrl", "firstName", "lastName", "fullName", "publicIdentifier", "urn")
        items[i] = {k: (v if k in keep else None) for k, v in items[i].items()}
    runs = layout.group(items)
    last = len(runs) - 1
    not_last = lambda i: layout.batch_of(i) < last  # noqa: E731
    for i in pick.take(0.01, where=not_last):
        insert_randomly(w.rng, runs[layout.batch_of(i) + 1], copy.deepcopy(items[i]))
    for i in pick.take(0.01, where=not_last):
        later = copy.deepcopy(items[i])
        later["linkedinUrl"] = later["linkedinUrl"].replace("www.", "de.") + "/?originalSubdomain=de"
        later["headline"] = "Advisor @ Sophia AI | " + later["headline"]
        later["connections"] = "500+"
        insert_randomly(w.rng, runs[layout.batch_of(i) + 1], later)
    for k in range(max(1, round(count * 0.005))):
        insert_randomly(w.rng, runs[k % len(runs)], "Profile is private or does not exist")
    return runs
