"""LinkedIn profile scraper (Apify) normalizer."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sophia_pipelines.domain.documents import RawRecord, content_hash, make_document_id
from sophia_pipelines.domain.normalize import normalize_apify_linkedin, normalize_record
from sophia_pipelines.streams import APIFY_LINKEDIN_PROFILES, PHANTOMBUSTER_LINKEDIN_SEARCH
from tests.helpers import FETCHED, only_document, only_rejection, raw_record

PROFILE_URL = "https://www.linkedin.com/in/amelia-garcia-4b1a2c"


def _record(payload: Any) -> RawRecord:
    return raw_record(payload, APIFY_LINKEDIN_PROFILES, "RUNabcdefghijklmn", 3, "rec-li")


def _profile(**overrides: Any) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "linkedinUrl": PROFILE_URL,
        "firstName": "Amelia",
        "lastName": "García",
        "fullName": "Amelia García",
        "headline": "Head of Data Platform at Northwind Robotics | Dagster · dbt",
        "connections": 412,
        "followers": 1830,
        "email": None,
        "jobTitle": "Head of Data Platform",
        "companyName": "Northwind Robotics",
        "companyIndustry": "Robotics Engineering",
        "companySize": "201-500",
        "currentJobDuration": "2 yrs 3 mos",
        "topSkillsByEndorsements": "Dagster, dbt, Snowflake",
        "addressWithCountry": "Berlin, Germany",
        "about": "I lead the data platform team.\n\nWe run Dagster on Kubernetes.",
        "publicIdentifier": "amelia-garcia-4b1a2c",
        "experiences": [
            {
                "title": "Head of Data Platform",
                "subtitle": "Northwind Robotics · Full-time",
                "caption": "Jan 2024 - Present · 2 yrs 3 mos",
                "metadata": "Berlin, Germany · Hybrid",
                "breakdown": False,
                "subComponents": [{"description": [{"type": "textComponent", "text": "Owns the warehouse."}]}],
            },
            {
                "title": "Quantara Bank",
                "subtitle": "Full-time · 5 yrs",
                "breakdown": True,
                "subComponents": [
                    {"title": "Data Engineer", "caption": "2019 - 2023", "description": []},
                    {"title": "Analyst", "caption": "2018 - 2019"},
                ],
            },
        ],
        "educations": [{"title": "ETH Zürich", "subtitle": "MSc Computer Science", "caption": "2012 - 2014"}],
        "skills": [{"title": "Dagster", "subComponents": []}, {"title": "dbt"}],
        "languages": [],
    }
    profile.update(overrides)
    return profile


EXPECTED_TEXT = """Amelia García
Head of Data Platform at Northwind Robotics | Dagster · dbt
Berlin, Germany
Current role: Head of Data Platform at Northwind Robotics (Robotics Engineering, 201-500 employees), 2 yrs 3 mos
Network: 412 connections, 1830 followers

About
I lead the data platform team.

We run Dagster on Kubernetes.

Experience
- Head of Data Platform · Northwind Robotics · Full-time (Jan 2024 - Present · 2 yrs 3 mos) · Berlin, Germany · Hybrid
Owns the warehouse.
- Quantara Bank · Full-time · 5 yrs
- Data Engineer · 2019 - 2023
- Analyst · 2018 - 2019

Education
- ETH Zürich · MSc Computer Science (2012 - 2014)

Skills
Dagster, dbt"""


def _doc(payload: Any):
    return only_document(normalize_apify_linkedin(_record(payload)))


def _reason(payload: Any) -> str:
    return only_rejection(normalize_apify_linkedin(_record(payload)), payload).reason


def test_profile_becomes_a_readable_document() -> None:
    doc = _doc(_profile())
    assert doc.text == EXPECTED_TEXT
    assert doc.title == "Amelia García"
    assert doc.url == PROFILE_URL
    assert doc.document_id == make_document_id(APIFY_LINKEDIN_PROFILES, PROFILE_URL)
    assert doc.author is None
    assert doc.published_at is None
    assert doc.fetched_at == FETCHED
    assert doc.raw_record_id == "rec-li"
    assert doc.content_hash == content_hash(doc.title, doc.text, doc.url, doc.author)


def test_string_counts_are_coerced() -> None:
    doc = _doc(_profile(connections="500+", followers="1,204"))
    assert "Network: 500 connections, 1204 followers" in doc.text
    doc = _doc(_profile(connections="lots", followers=None))
    assert "Network:" not in doc.text


def test_url_variants_and_public_identifier_give_one_id() -> None:
    expected = make_document_id(APIFY_LINKEDIN_PROFILES, PROFILE_URL)
    for overrides in (
        {"linkedinUrl": "https://de.linkedin.com/in/amelia-garcia-4b1a2c/?originalSubdomain=de"},
        {"linkedinUrl": "linkedin.com/in/amelia-garcia-4b1a2c/"},
        {"linkedinUrl": None},
        {"linkedinUrl": "N/A"},
    ):
        assert _doc(_profile(**overrides)).document_id == expected
    assert make_document_id(PHANTOMBUSTER_LINKEDIN_SEARCH, PROFILE_URL) != expected


def test_html_in_about_is_cleaned() -> None:
    doc = _doc(_profile(about="<p>Data &amp; ML platform.</p><p>Hiring <b>now</b>!</p>"))
    assert "About\nData & ML platform.\n\nHiring now!\n\nExperience" in doc.text


def test_non_ascii_and_emoji_are_kept() -> None:
    doc = _doc(_profile(fullName="田中美咲", headline="🚀 Building GPU clouds ☁️ | Tōkyō"))
    assert doc.title == "田中美咲"
    assert doc.text.startswith("田中美咲\n🚀 Building GPU clouds ☁️ | Tōkyō\n")


def test_null_and_missing_fields_are_tolerated() -> None:
    profile = _profile(about=None, experiences=None, companyIndustry=None, skills="not a list", fullName=None)
    del profile["educations"]
    doc = _doc(profile)
    assert doc.title == "Amelia García"  # from firstName + lastName
    assert "About" not in doc.text and "Experience" not in doc.text and "Education" not in doc.text
    assert "Current role: Head of Data Platform at Northwind Robotics (201-500 employees), 2 yrs 3 mos" in doc.text
    assert doc.text.endswith("Skills\nDagster, dbt, Snowflake")  # topSkillsByEndorsements fallback


def test_skills_as_plain_strings_and_odd_entries() -> None:
    profile = _profile(skills=["Kubernetes", 7, {"name": "MLOps"}, None], educations=["ETH Zürich", 3])
    doc = _doc(profile)
    assert doc.text.endswith("Education\n- ETH Zürich\n\nSkills\nKubernetes, 7, MLOps")


def test_profile_with_nothing_but_a_name_is_rejected() -> None:
    empty = {k: None for k in _profile()}
    empty.update(linkedinUrl=PROFILE_URL, fullName="Amelia García", connections="500+")
    assert _reason(empty) == "empty profile: no headline, about, job, experience or skills"


def test_missing_url_and_identifier_is_rejected() -> None:
    assert _reason(_profile(linkedinUrl=None, publicIdentifier=None)) == "missing linkedinUrl and publicIdentifier"
    assert _reason(_profile(linkedinUrl=None, publicIdentifier="has spaces")) == (
        "missing linkedinUrl and publicIdentifier"
    )


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("Profile is private or does not exist", "item is a string, expected an object"),
        ([{"linkedinUrl": PROFILE_URL}], "item is a list, expected an object"),
        (None, "item is null, expected an object"),
    ],
)
def test_not_an_object_is_rejected(payload: Any, reason: str) -> None:
    assert _reason(payload) == reason


def test_same_profile_twice_is_identical_and_changes_are_detected() -> None:
    first, second = _doc(_profile()), _doc(copy.deepcopy(_profile()))
    assert first == second
    changed = _doc(_profile(headline="Advisor @ Sophia AI | Head of Data Platform"))
    assert changed.document_id == first.document_id
    assert changed.content_hash != first.content_hash


def test_dispatcher_routes_linkedin_profiles() -> None:
    record = _record(_profile())
    assert normalize_record(record).documents == normalize_apify_linkedin(record).documents
