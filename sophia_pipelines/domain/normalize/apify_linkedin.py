"""Apify LinkedIn profile scraper item -> Document (a readable profile text composed from the fields)."""

from __future__ import annotations

from typing import Any

from sophia_pipelines.domain.documents import NormalizeResult, RawRecord
from sophia_pipelines.domain.normalize.common import (
    accepted,
    as_list,
    build_document,
    canonical_linkedin_url,
    coerce_int,
    coerce_str,
    coerce_text,
    first_str,
    join_nonempty,
    not_an_object_reason,
    person_name,
    rejected,
)


def profile_url(payload: dict[str, Any]) -> str | None:
    """Canonical profile URL from linkedinUrl, else built from publicIdentifier."""
    url = canonical_linkedin_url(payload.get("linkedinUrl"))
    if url:
        return url
    public_id = coerce_str(payload.get("publicIdentifier"))
    if public_id and "/" not in public_id and " " not in public_id:
        return f"https://www.linkedin.com/in/{public_id}"
    return None


def _descriptions(entry: dict[str, Any]) -> list[str]:
    """Text of `description[{type, text}]` (a plain string is accepted too)."""
    description = entry.get("description")
    if isinstance(description, str):
        return [coerce_text(description)]
    return [coerce_text(d.get("text")) for d in as_list(description) if isinstance(d, dict)]


def _entry_lines(entry: Any) -> list[str]:
    """An experience/education entry as `- title · subtitle (caption) · metadata` plus its descriptions."""
    if isinstance(entry, str):
        return [f"- {line}"] if (line := coerce_str(entry)) else []
    if not isinstance(entry, dict):
        return []
    head = join_nonempty((coerce_str(entry.get("title")), coerce_str(entry.get("subtitle"))), " · ")
    caption, where = coerce_str(entry.get("caption")), coerce_str(entry.get("metadata"))
    head = join_nonempty((f"{head} ({caption})" if head and caption else head or caption, where), " · ")
    lines = [f"- {head}"] if head else []
    for sub in as_list(entry.get("subComponents")):
        if not isinstance(sub, dict):
            continue
        role = join_nonempty((coerce_str(sub.get("title")), coerce_str(sub.get("caption"))), " · ")
        if role:
            lines.append(f"- {role}")
        lines.extend(d for d in _descriptions(sub) if d)
    return lines


def _section(heading: str, entries: Any) -> str | None:
    lines = [line for entry in as_list(entries) for line in _entry_lines(entry)]
    return heading + "\n" + "\n".join(lines) if lines else None


def _skills(payload: dict[str, Any]) -> str | None:
    names = [
        coerce_str(skill.get("title") or skill.get("name")) if isinstance(skill, dict) else coerce_str(skill)
        for skill in as_list(payload.get("skills"))
    ]
    listed = join_nonempty(names, ", ") or coerce_str(payload.get("topSkillsByEndorsements"))
    return f"Skills\n{listed}" if listed else None


def _current_role(payload: dict[str, Any]) -> str | None:
    job, company = coerce_str(payload.get("jobTitle")), coerce_str(payload.get("companyName"))
    role = join_nonempty((job, company), " at ")
    if not role:
        return None
    size = coerce_str(payload.get("companySize"))
    details = join_nonempty((coerce_str(payload.get("companyIndustry")), f"{size} employees" if size else None), ", ")
    duration = coerce_str(payload.get("currentJobDuration"))
    return "Current role: " + join_nonempty((f"{role} ({details})" if details else role, duration), ", ")


def _network(payload: dict[str, Any]) -> str | None:
    connections, followers = coerce_int(payload.get("connections")), coerce_int(payload.get("followers"))
    parts = (
        f"{connections} connections" if connections is not None else None,
        f"{followers} followers" if followers is not None else None,
    )
    return "Network: " + join_nonempty(parts, ", ") if any(parts) else None


def profile_text(payload: dict[str, Any], name: str | None) -> str:
    """The readable profile; '' when there is nothing beyond the name and network counts."""
    about = coerce_text(payload.get("about"))
    body = [
        coerce_str(payload.get("headline")),
        first_str(payload.get("addressWithCountry"), payload.get("addressCountryOnly")),
        _current_role(payload),
        f"About\n{about}" if about else None,
        _section("Experience", payload.get("experiences")),
        _section("Education", payload.get("educations")),
        _skills(payload),
    ]
    if not any(body):
        return ""
    header = join_nonempty((name, body[0], body[1], body[2], _network(payload)), "\n")
    return join_nonempty([header, *body[3:]], "\n\n")


def normalize_apify_linkedin(record: RawRecord) -> NormalizeResult:
    """One scraped profile -> one Document keyed on its canonical profile URL."""
    payload = record.payload
    if not isinstance(payload, dict):
        return rejected(record, not_an_object_reason(payload))
    url = profile_url(payload)
    if url is None:
        return rejected(record, "missing linkedinUrl and publicIdentifier")
    name = person_name(payload)
    text = profile_text(payload, name)
    if not text:
        return rejected(record, "empty profile: no headline, about, job, experience or skills")
    return accepted(build_document(record, external_key=url, url=url, title=name, text=text))
