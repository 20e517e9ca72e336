"""Hand-written anchor documents (first in each stream) with vocabulary found nowhere else.

Search tests can rely on finding them first.
"""

from __future__ import annotations

ANCHOR_PAGES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "https://www.sophia-ai.com/blog/liquid-cooling-retrofit-for-dense-gpu-racks",
        "Retrofitting liquid cooling for dense GPU racks",
        "Ingrid Lindqvist",
        (
            "Air cooling stops working somewhere around 40 kW per rack, and a rack of eight-GPU servers now draws "
            "close to 80 kW. Sophia AI's colocation partner in Helsinki retrofitted two data halls with "
            "direct-to-chip liquid cooling instead of building a new site.",
            "Cold plates sit on every GPU and CPU, and coolant distribution units exchange heat with the facility "
            "water loop. Rear-door heat exchangers handle the remaining air-cooled components such as power "
            "supplies and network switches.",
            "Power usage effectiveness dropped from 1.45 to 1.12 after the retrofit. The waste heat now feeds the "
            "city's district heating network, which pays for part of the coolant plumbing.",
            "Leak detection cables under every rack and dripless quick-disconnect couplings were the two items the "
            "insurer insisted on before the first liquid-cooled rack went live.",
        ),
    ),
)
ANCHOR_PROFILE = {
    "firstName": "Valentina",
    "lastName": "Okonjo",
    "fullName": "Valentina Okonjo",
    "headline": "Head of Speech Recognition Infrastructure at Orchid Telecom | Streaming ASR · Diarization",
    "jobTitle": "Head of Speech Recognition Infrastructure",
    "companyName": "Orchid Telecom",
    "companyIndustry": "Telecommunications",
    "companySize": "5001-10000",
    "about": "I run the platform that transcribes Orchid Telecom's customer service calls in real time: streaming "
    "speech recognition in 38 languages, speaker diarization that separates agent and caller, and redaction of "
    "card numbers before any transcript is stored.\n\nWe fine-tuned Whisper-style acoustic models on accented "
    "call-centre audio and cut the word error rate from 14% to 8% on noisy mobile calls.",
    "topSkillsByEndorsements": "Speech Recognition, Speaker Diarization, Audio Signal Processing",
}
ANCHOR_RESULT = {
    "title": "Carbon-aware scheduling of GPU training jobs",
    "url": "https://www.infrastructure-ai.news/sustainability/carbon-aware-scheduling-of-gpu-training-jobs",
    "content": "A carbon-aware scheduler delays deferrable training jobs until the grid's carbon intensity forecast "
    "drops, and moves them to regions powered by hydro or wind when it does not.",
    "raw_content": "Carbon-aware scheduling of GPU training jobs\n\nA carbon-aware scheduler delays deferrable "
    "training jobs until the grid's carbon intensity forecast drops below 150 gCO2 per kWh, and moves them to "
    "regions powered by hydro or wind when it does not.\n\nJobs checkpoint and pause when intensity spikes in "
    "the evening peak, then resume overnight. Over one quarter the emissions of the fine-tuning fleet fell by a "
    "third while the average completion time grew by only four hours.",
}
ANCHOR_COUNT = 1  # items reserved at the start of each stream for the anchors
