"""What the post's text says about where a named person is: elsewhere, on the left, or beside someone unnamed.

Each rule has a name, so the benchmark can count how often it is right (docs/models/visual.md has the counts):
- `for`: "Dog sitting for Jess this week", "a cake for Sam": the post is done for someone who is not in it.
- `owner`: "Jess's dog", "owned by Jess": the photo shows the pet or thing, not its owner.
- `friend`: "my friend Jess" when nothing puts her with the poster ("with my friend", "me and my friend").
- `miss`: "miss you Jess", "RIP Jess", "thinking of Jess", "wish Jess was here".
- `would`: "Valentino Rossi would love this Yamaha": someone imagined beside the photo.
- `quoted`: a quotation's author ('"..." - Jess', "via Jess", "photo by Jess", "Jess said").
- `thanks`: "thanks @jess for the patience": the post addresses them, as the one behind the camera.
Position cues: "Jess (left)", "Jess on the right", "left: Jess", and "L-R:" / "from left" (order of mention is
then left to right, a strong cue). Unnamed people: "me and Jess", "Jess and I" (the poster is one of the people).
"""

from __future__ import annotations

import re
from typing import Literal

Side = Literal["left", "right", "centre"]

_OBJECTS = (
    r"(?:dog|dogs|puppy|pup|cat|cats|kitten|horse|pony|pet|pets|car|bike|motorcycle|boat|house|garden|baby|"
    r"cake|book|painting|art|artwork|photo|picture|shop|restaurant|cafe|bakery|farm)"
)


def _n(name: str) -> str:
    """A pattern for the name, its spaces loose, ending at a word boundary; also its first or last word alone."""
    words = name.split()
    full = r"\s+".join(re.escape(w) for w in words)
    parts = [full]
    if len(words) > 1:
        parts += [re.escape(w) for w in (words[0], words[-1]) if len(w) >= 3]
    return r"@?(?:" + "|".join(parts) + r")\b"


def _rules(name: str) -> list[tuple[str, re.Pattern[str]]]:
    n = _n(name)
    flags = re.IGNORECASE
    return [
        (
            "for",
            re.compile(
                r"\bfor\s+(?:my\s+|our\s+|his\s+|her\s+|their\s+|the\s+)?(?:(?!with\b|and\b)\w+\s+)?" + n, flags
            ),
        ),
        ("owner", re.compile(n + r"\s*(?:'s|’s|')\s+(?:\w+\s+){0,2}?" + _OBJECTS + r"\b", flags)),
        ("owner", re.compile(r"\b(?:owned|bred|trained|rescued|adopted|painted|made|built)\s+by\s+" + n, flags)),
        (
            "friend",
            re.compile(
                r"(?<!with )(?<!and )(?<!me )\bmy\s+(?:best\s+)?(?:friend|buddy|pal|mate|bestie|neighbou?r)\s+" + n,
                flags,
            ),
        ),
        (
            "miss",
            re.compile(
                r"\b(?:miss(?:ing)?|rip|r\.i\.p\.?|remembering|in\s+memory\s+of|thinking\s+of|thoughts\s+with|"
                r"condolences\s+to|get\s+well\s+soon|happy\s+heavenly\s+birthday)\s*,?\s+(?:you\s*,?\s+)?"
                r"(?:my\s+|our\s+|dear\s+)?" + n,
                flags,
            ),
        ),
        ("miss", re.compile(r"\bwish(?:ing)?\s+" + n + r"\s+(?:was|were|could\s+be)\s+here", flags)),
        (
            "would",
            re.compile(
                n + r"\s+would\s+(?:have\s+)?(?:love|loved|like|liked|enjoy|enjoyed|be\s+proud|approve|want)", flags
            ),
        ),
        ("quoted", re.compile(r"[\"“”][^\"“”]{3,}[\"“”]\s*[-–—~]+\s*" + n, flags)),
        ("quoted", re.compile(r"(?:^|\s)[-–—~]{1,2}\s*" + n + r"\s*$", flags)),
        (
            "quoted",
            re.compile(
                r"\b(?:via|h/t|ht|cc|(?:photo|pic|picture|image|shot|video|words|quote|art|drawing)\s*(?:by|:|from)|"
                r"credit\s*:?|according\s+to|says|said)\s+" + n,
                flags,
            ),
        ),
        ("quoted", re.compile(n + r"\s+(?:said|says|writes|wrote|tweeted|posted|reminds\s+us)\b", flags)),
        ("thanks", re.compile(r"\b(?:thanks|thank\s+you|thx|shout\s*out|props)\s*(?:to\s+)?,?\s*" + n, flags)),
    ]


def placed_elsewhere(name: str, text: str | None) -> str | None:
    """The rule that places `name` outside the photo, or None."""
    if not text or not name.strip():
        return None
    for rule, pattern in _rules(name):
        if pattern.search(text):
            return rule
    return None


def _first_match(patterns: tuple[str, ...], text: str) -> re.Match[str] | None:
    """The match of the first of `patterns` (tried in order, ignoring case) that `text` holds."""
    for pattern in patterns:
        match = re.search(pattern, text, re.IGNORECASE)
        if match:
            return match
    return None


def side_of(name: str, text: str | None) -> Side | None:
    """Where the text puts `name` in the photo ("(left)", "on the right", "left: name"), or None."""
    if not text:
        return None
    n = _n(name)
    side = r"(left|right|centre|center|middle)"
    match = _first_match(
        (
            n + r"\s*[\(\[]\s*(?:far\s+|on\s+the\s+|at\s+)?" + side + r"\s*[\)\]]",
            n + r",?\s+(?:on|at|to)\s+(?:the\s+)?(?:far\s+)?" + side + r"\b",
            r"\b" + side + r"\s*[:\-–]\s*" + n,
        ),
        text,
    )
    if match is None:
        return None
    word = match.group(1).casefold()
    return "centre" if word in ("center", "centre", "middle") else word  # type: ignore[return-value]


def apposition(name: str, text: str | None) -> str | None:
    """What the post itself calls `name`, when it says so next to it: "Reginald the capybara", "Meet Biscuit, our
    new bunny", "my dog Rex", "Chelsea, the cat". One word (the noun), or None. It beats the small LLM's
    description, which is a guess about a name it has never seen ("Secretariat is an American actor")."""
    if not text:
        return None
    n = _n(name)
    adjectives = r"(?:(?:new|little|old|sweet|good|best|baby|big|fat|lazy|crazy|rescue|pet)\s+)*"
    match = _first_match(
        (
            n + r"\s*,?\s+the\s+" + adjectives + r"([a-z]+)\b",
            n + r"\s*,\s*(?:our|my|his|her|their|the)\s+" + adjectives + r"([a-z]+)\b",
            r"\b(?:our|my|his|her|their)\s+" + adjectives + r"([a-z]+)\s*,?\s+" + n,
        ),
        text,
    )
    return match.group(1).casefold() if match else None


def side_in(description: str) -> Side | None:
    """Where an expression's own description puts its entity ("a man with glasses, on the right")."""
    match = re.search(
        r"\b(?:on|at|to)\s+the\s+(?:far\s+)?(left|right)\b|\bin\s+the\s+(middle|centre|center)\b|"
        r"\b(left|right)most\b",
        description,
        re.IGNORECASE,
    )
    if match is None:
        return None
    word = next(g for g in match.groups() if g).casefold()
    return "centre" if word in ("center", "centre", "middle") else word  # type: ignore[return-value]


def left_to_right(text: str | None) -> bool:
    """Whether the text says its names are listed left to right ("L-R:", "from left")."""
    pattern = r"\b(?:l\s*-\s*r|l\s+to\s+r|from\s+(?:the\s+)?left|left\s+to\s+right)\b"
    return bool(text) and re.search(pattern, text or "", re.I) is not None


def poster_position(name: str, text: str | None) -> int | None:
    """Where the text puts the poster among the people, when it does: "me and Jess", "Me, Dieter and Sven",
    "Jess and I", "with me" (the character offset of "me"/"I", for the order of mention); None otherwise."""
    if not text:
        return None
    n = _n(name)
    match = _first_match(
        (
            r"\b(me|myself)\s*(?:,|and|&|with)\s+(?:my\s+\w+\s+)?" + n,
            n + r"(?:\s*,\s*\w+)*\s+(?:and|&)\s+(me|i|myself)\b",
            n + r"\s+(?:and|&)\s+(me|i|myself)\b",
        ),
        text,
    )
    return match.start(1) if match else None


def poster_in_photo_with(name: str, text: str | None) -> bool:
    """ "me and Jess", "Jess and I", "Me, Jess and Sam": the poster is one of the people, unnamed."""
    return poster_position(name, text) is not None


_RELATIONS = (
    r"sister|brother|wife|husband|mom|mum|dad|mother|father|son|daughter|friend|buddy|partner|girlfriend|boyfriend|"
    r"assistant|colleague|coach|mate|cousin|uncle|aunt|grandma|grandpa|kid|kids|boss|teammate|better\s+half"
)
_CAPITALISED = re.compile(r"\b[A-Z][a-z]{2,}(?:\s+[A-Z][a-z]{2,})?\b")
_NOT_NAMES = frozenset(
    str.split(
        "The This That These Those And But With For From Our Their His Her Its Just Happy Great Good Best New Today "
        "Tonight Yesterday Tomorrow When What Where Who Why How Here There Thanks Thank Congrats Love Morning Evening "
        "Night Day Week Weekend Monday Tuesday Wednesday Thursday Friday Saturday Sunday Team Family Friends"
    )
)


def unnamed_companions(names: list[str], text: str | None) -> list[str]:
    """People beside a known name that no expression names: capitalised words joined to it by "and" / "&" that
    are not known names (the tagger missed "Kim" in "Kim and Jess at the beach"), and unnamed relations ("Jakob
    and his sister", "with his assistant"). They take part in the order of mention."""
    if not text or not names:
        return []
    known = {w.casefold() for name in names for w in name.split()}
    found: list[str] = []
    for name in names:
        n = _n(name)
        # "Jakob and his sister", "with his assistant", "my wife and Jess": someone unnamed beside the name.
        for pattern in (
            n + r"\s+(?:and|&|with)\s+((?:his|her|their|my|our)\s+(?:" + _RELATIONS + r"))\b",
            r"\b((?:his|her|their|my|our)\s+(?:" + _RELATIONS + r"))\s+(?:and|&)\s+" + n,
        ):
            for match in re.finditer(pattern, text, re.IGNORECASE):
                if match.group(1) not in found:
                    found.append(match.group(1))
        for pattern in (
            r"([A-Z][a-z]{2,}(?:\s+[A-Z][a-z]{2,})?)\s+(?:and|&)\s+" + n,
            n + r"\s+(?:and|&)\s+([A-Z][a-z]{2,})\b",
        ):
            for match in re.finditer(pattern, text):
                other = match.group(1)
                words = other.split()
                if any(w.casefold() in known or w in _NOT_NAMES for w in words):
                    continue
                if other not in found:
                    found.append(other)
    return found


POSTER = "<poster>"


def mention_order(names: list[str], text: str | None) -> list[str]:
    """`names`, the `unnamed_companions` and the poster (`POSTER`, when `poster_position` finds them) in order of
    first mention in the text; names not found keep their request order after the others."""
    everyone = names + unnamed_companions(names, text)
    if not text:
        return everyone
    positions = {}
    for name in everyone:
        match = re.search(_n(name), text, re.IGNORECASE)
        positions[name] = match.start() if match else len(text) + everyone.index(name)
    poster = [p for p in (poster_position(name, text) for name in names) if p is not None]
    if poster:
        positions[POSTER] = min(poster)
    return sorted(positions, key=lambda name: positions[name])
