"""The label contract: entity labels, event types and their definitions.

This is the single place in code that names labels; everything else
(validator, converters, dataset, model, tagger, event records, model card) reads it.

>>> set(RECORD_EVENT_TYPES) <= set(EVENT_TYPES), tuple(RECORD_ENTITY_FIELDS) == ENTITY_LABELS
(True, True)
"""

from __future__ import annotations

ENTITY_LABELS: tuple[str, ...] = ("ACTOR", "PERSON", "WEAPON", "SITE", "LOCATION", "TIME")

EVENT_TYPES: tuple[str, ...] = (
    "ATTACK",
    "AIRSTRIKE",
    "INTERCEPTION",
    "EXPLOSION",
    "CASUALTIES",
    "THREAT",
    "RESPONSIBILITY",
    "DEPLOYMENT",
    "DIPLOMACY",
)

# The violent event types that become ACLED-style event records (inference/records.py, docs/records.md).
RECORD_EVENT_TYPES: tuple[str, ...] = ("ATTACK", "AIRSTRIKE", "INTERCEPTION", "EXPLOSION")

# Entity label -> the event record field listing the sentence's entities with that label.
RECORD_ENTITY_FIELDS: dict[str, str] = {
    "ACTOR": "actors",
    "PERSON": "people",
    "WEAPON": "weapons",
    "SITE": "sites",
    "LOCATION": "locations",
    "TIME": "times",
}

ENTITY_DEFINITIONS: dict[str, str] = {
    "ACTOR": "Collective actors: armed groups, forces and units, security services, governments and "
    "their bodies, international organisations, and states when they act (metonymy).",
    "PERSON": "Individual people referred to by name; titles and ranks stay outside.",
    "WEAPON": "Weapons, munitions, weapon systems and military platforms used to attack or defend.",
    "SITE": "Specific installations and facilities, named or generic: bases, airports, camps, depots, embassies.",
    "LOCATION": "Places as places: countries, provinces, cities, towns, regions.",
    "TIME": "Date and time expressions, absolute or relative (not pure durations).",
}

EVENT_DEFINITIONS: dict[str, str] = {
    "ATTACK": "An armed attack or attempt with rockets, missiles, drones, explosives or gunfire, "
    "other than strikes from military aircraft.",
    "AIRSTRIKE": "A strike by military aircraft or by state-operated armed drones.",
    "INTERCEPTION": "Weapons shot down, intercepted, defused or found before they struck.",
    "EXPLOSION": "An explosion or blast whose cause or perpetrator the text leaves open.",
    "CASUALTIES": "People killed or injured (not when the text says nobody was hurt).",
    "THREAT": "A threat, warning or vow of future attack or retaliation.",
    "RESPONSIBILITY": "A claim, denial or attribution of responsibility for an attack.",
    "DEPLOYMENT": "Deployment, reinforcement, withdrawal or stated force posture of troops or weapons.",
    "DIPLOMACY": "Visits, talks, consultations, negotiations or agreements between governments.",
}


def bio_labels(entity_labels: tuple[str, ...] = ENTITY_LABELS) -> list[str]:
    """IOB2 tag list: ``O`` first, then ``B-``/``I-`` for each label, in schema order."""
    tags = ["O"]
    for label in entity_labels:
        tags += [f"B-{label}", f"I-{label}"]
    return tags
