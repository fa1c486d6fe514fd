"""Mapping from tagger label sets to the four GMNER types (PER, LOC, ORG, MISC)."""

from __future__ import annotations

from shared.protocol.common import EntityType

# OntoNotes 5 (spaCy's English pipelines) -> GMNER. Numeric and temporal labels are not named
# entities in Twitter-GMNER's annotation scheme, so they are dropped (absent from the map).
ONTONOTES_TO_GMNER: dict[str, EntityType] = {
    "PERSON": EntityType.PER,
    "GPE": EntityType.LOC,
    "LOC": EntityType.LOC,
    "FAC": EntityType.LOC,
    "ORG": EntityType.ORG,
    "NORP": EntityType.MISC,
    "EVENT": EntityType.MISC,
    "WORK_OF_ART": EntityType.MISC,
    "PRODUCT": EntityType.MISC,
    "LAW": EntityType.MISC,
    "LANGUAGE": EntityType.MISC,
}

# Labels used by CoNLL-style models and by the Twitter-GMNER data (OTHER is the paper's MISC).
GENERIC_TO_GMNER: dict[str, EntityType] = {
    "PER": EntityType.PER,
    "PERSON": EntityType.PER,
    "LOC": EntityType.LOC,
    "LOCATION": EntityType.LOC,
    "GPE": EntityType.LOC,
    "ORG": EntityType.ORG,
    "ORGANIZATION": EntityType.ORG,
    "MISC": EntityType.MISC,
    "OTHER": EntityType.MISC,
}


def to_gmner_type(label: str) -> EntityType | None:
    """The GMNER type of a tagger label, or None when the label is not a named-entity type we keep."""
    upper = label.upper()
    return ONTONOTES_TO_GMNER.get(upper) or GENERIC_TO_GMNER.get(upper)
