"""What a referring expression says its entity IS, as the COCO-80 classes the bundled detector can see.

The expansion stage writes `Name (TYPE) – description` ("Bruno (PER) – Bruno is a golden retriever owned by
Jess"). The description's head noun decides what to look for, the NER type is only a prior:
1. The description is cut to its first noun phrase: a leading "Bruno is" goes, and the phrase ends at the
   first clause boundary ("owned by", "who", "in", "of", a comma ...). Its last word is the head ("a golden
   retriever dog" -> dog; "a Japanese motorcycle maker" -> maker; "a horse race" -> race). "a motorcycle
   model", "a breed of dog", "the name of a dog": the head is the word the placeholder stands for.
2. The head is looked up in a hand-written lexicon: each COCO class with its hyponyms and everyday names
   (dog: puppy, pup, pooch, retriever, labrador, terrier, corgi ...; horse: pony, mare, stallion, foal,
   racehorse ...), the animals with no COCO class (squirrel, mandrill, goat: "any animal"), artworks, and the
   heads that are never an object in view (company, city, festival, race, mission, agency ...).
3. A head the lexicon does not know: the other words of the phrase are tried right to left ("a Swiss
   watchmaker" knows none; "a Yamaha" knows the brand), then the NER type's prior (PER: person).
4. A team, club or band is its people (person). An organisation whose head makes things ("motorcycle
   maker", "airline") is seen as its product when the product is in view. "comic strip", "cartoon",
   "fictional" ... make the entity not a thing in the photo.
5. LOC is never an object (a place is found only written in the image): Ohio described with the post's
   motorcycle must not take the motorcycle's box.

Why a lexicon and not the bundled MiniLM: the VE and VG processes import no torch (a test asserts it; torch
costs each stage ~500 MB RSS), and on the benchmark's descriptions the head noun is what carries the class:
whole-description similarity pulls "a dog trainer" to dog and "a coffee chain" to cup (docs/models/visual.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from engines.vision.expressions import description_of
from shared.protocol.common import EntityType
from shared.protocol.visual import VisualExpression

Kind = Literal["person", "animal", "vehicle", "object", "artwork", "landmark", "abstract", "unknown"]

PERSON = "person"


def _w(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# COCO class -> its words (singular; plurals are reduced before lookup).
COCO_WORDS: dict[str, tuple[str, ...]] = {
    "person": _w(
        "person people man woman men women guy lady gentleman girl kid child children baby toddler teenager teen "
        "player athlete actor actress singer rapper musician astronaut cosmonaut photographer scientist president "
        "politician businessman businesswoman entrepreneur billionaire racer driver footballer striker goalkeeper "
        "quarterback coach manager ceo founder author writer artist painter director comedian chef student teacher "
        "professor doctor nurse soldier officer king queen prince princess mother father mom mum dad son daughter "
        "brother sister wife husband friend grandmother grandfather grandma grandpa boyfriend girlfriend member "
        "star celebrity influencer youtuber streamer host presenter journalist reporter anchor senator governor "
        "mayor minister pope monk fan bride groom cyclist runner swimmer boxer wrestler skater golfer dancer "
        "drummer guitarist vocalist leader candidate lawyer engineer designer inventor explorer pilot captain "
        "surfer skier rider jockey climber vlogger poet novelist philosopher activist chancellor emperor duke "
        "duchess economist physicist chemist mathematician programmer developer investor executive composer "
        "conductor pianist violinist producer filmmaker model midfielder defender forward pitcher batter sprinter "
        "team club band crew squad orchestra choir duo trio boy neighbor neighbour colleague assistant owner sitter "
        "walker trainer vet judge chief general firefighter policeman policewoman cop worker farmer cowboy veteran "
        "champion winner legend icon idol superstar official spokesperson commentator pundit critic historian "
        "researcher biologist astronomer physician surgeon dentist pharmacist architect sculptor illustrator "
        "cartoonist editor publisher blogger broadcaster dj bassist frontman songwriter cook baker barista waiter "
        "waitress bartender gardener mechanic carpenter tailor stylist hairdresser photojournalist traveler "
        "traveller tourist hiker camper fiance fiancee aunt uncle cousin niece nephew granddaughter grandson parent "
        "twin bestie buddy pal mate roommate classmate teammate wizard witch santa clown superhero"
    ),
    "dog": _w(
        "dog puppy pup pooch doggo doggy hound retriever labrador terrier poodle bulldog spaniel beagle husky corgi "
        "dachshund pug chihuahua collie rottweiler doberman greyhound whippet schnauzer pomeranian samoyed akita "
        "malamute mastiff sheepdog setter labradoodle cockapoo cavapoo springer weimaraner vizsla dalmatian basset "
        "bloodhound shiba canine goldendoodle doodle pitbull staffy shepherd lurcher cur mutt"
    ),
    "cat": _w("cat kitten kitty tabby tomcat feline moggy siamese ragdoll sphynx moggie"),
    "horse": _w(
        "horse pony stallion mare foal colt filly racehorse thoroughbred gelding steed equine donkey mule warmblood "
        "clydesdale"
    ),
    "sheep": _w("sheep lamb ewe ram"),
    "cow": _w("cow cattle calf bull ox heifer bullock bovine"),
    "elephant": _w("elephant mammoth"),
    "bear": _w("bear grizzly panda cub"),
    "zebra": _w("zebra"),
    "giraffe": _w("giraffe"),
    "bird": _w(
        "bird parrot eagle owl pigeon duck goose swan chicken hen rooster penguin seagull gull sparrow robin crow "
        "raven hawk flamingo peacock budgie parakeet cockatoo macaw pelican heron stork ostrich duckling chick "
        "songbird finch kingfisher puffin woodpecker magpie dove cockatiel"
        " nuthatch wren blackbird starling thrush jay bluejay cardinal swallow kestrel falcon vulture condor albatross"
        " cormorant egret ibis lorikeet toucan kookaburra emu"
    ),
    "teddy bear": _w("teddy plush plushie"),
    "bicycle": _w("bicycle bike bmx ebike"),
    "car": _w(
        "car automobile sedan suv hatchback coupe convertible roadster jeep limousine limo taxi cab supercar "
        "hypercar minivan racecar"
    ),
    "motorcycle": _w("motorcycle motorbike moped scooter chopper superbike dirtbike"),
    "bus": _w("bus minibus trolleybus"),
    "truck": _w("truck lorry pickup van tractor firetruck"),
    "train": _w("train locomotive tram railway subway metro railcar streetcar"),
    "airplane": _w(
        "airplane aeroplane plane aircraft jet airliner jumbo glider biplane seaplane helicopter warplane jetliner"
    ),
    "boat": _w(
        "boat ship yacht ferry sailboat canoe kayak vessel catamaran schooner dinghy submarine gondola steamboat "
        "tugboat barge trawler liner"
    ),
    "cup": _w("cup mug espresso latte cappuccino coffee tea teacup"),
    "bottle": _w("bottle beer soda"),
    "wine glass": _w("wine glass champagne"),
    "bowl": _w("bowl"),
    "book": _w("book novel paperback memoir cookbook textbook hardback biography"),
    "clock": _w("clock"),
    "tv": _w("tv television monitor screen"),
    "laptop": _w("laptop macbook notebook chromebook thinkpad"),
    "cell phone": _w("phone smartphone iphone cellphone handset"),
    "keyboard": _w("keyboard"),
    "sports ball": _w("ball football soccer basketball volleyball rugby baseball"),
    "tennis racket": _w("racket racquet"),
    "baseball bat": _w("bat"),
    "skateboard": _w("skateboard"),
    "surfboard": _w("surfboard"),
    "skis": _w("ski skis"),
    "snowboard": _w("snowboard"),
    "kite": _w("kite"),
    "frisbee": _w("frisbee"),
    "umbrella": _w("umbrella parasol"),
    "handbag": _w("handbag purse bag clutch tote"),
    "backpack": _w("backpack rucksack"),
    "suitcase": _w("suitcase luggage"),
    "tie": _w("tie necktie"),
    "bench": _w("bench"),
    "chair": _w("chair armchair stool"),
    "couch": _w("couch sofa"),
    "bed": _w("bed"),
    "dining table": _w("table"),
    "potted plant": _w("plant houseplant cactus succulent bonsai"),
    "vase": _w("vase"),
    "pizza": _w("pizza"),
    "cake": _w("cake cupcake cheesecake"),
    "donut": _w("donut doughnut"),
    "sandwich": _w("sandwich burger hamburger"),
    "hot dog": _w("hotdog"),
    "banana": _w("banana"),
    "apple": _w("apple"),
    "orange": _w("orange"),
    "broccoli": _w("broccoli"),
    "carrot": _w("carrot"),
    "microwave": _w("microwave"),
    "oven": _w("oven"),
    "toaster": _w("toaster"),
    "refrigerator": _w("refrigerator fridge"),
    "sink": _w("sink"),
    "toilet": _w("toilet"),
    "traffic light": _w("traffic light"),
    "fire hydrant": _w("hydrant"),
    "stop sign": _w("stop sign"),
}

# Person words that name a group of people.
GROUPS = frozenset(_w("team club band crew squad orchestra choir duo trio group"))

ANIMAL_CLASSES = ("dog", "cat", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "bird")
VEHICLE_CLASSES = ("bicycle", "car", "motorcycle", "bus", "truck", "train", "airplane", "boat")

# Animals the detector has no class for: CenterNet labels them as the nearest class it knows (a squirrel as a
# cat or a bird, a goat as a sheep), so they take the best animal detection, else the photo's main subject.
OTHER_ANIMALS = frozenset(
    _w(
        "animal pet squirrel mandrill monkey baboon ape gorilla chimpanzee chimp orangutan lion lioness tiger "
        "leopard cheetah jaguar fox wolf deer stag doe fawn reindeer moose elk rabbit bunny hare hamster "
        "gerbil rat goat kid pig piglet hog boar llama alpaca camel kangaroo wallaby koala raccoon otter seal "
        "walrus dolphin whale fish goldfish turtle tortoise snake python lizard gecko iguana frog toad "
        "hedgehog ferret butterfly bee spider insect octopus shark crab lobster bison buffalo hippo "
        "hippopotamus rhino rhinoceros sloth lemur meerkat mongoose beaver badger porcupine chinchilla guinea "
        "lynx puma cougar panther hyena antelope gazelle yak ox capybara armadillo opossum possum skunk bat "
        "mammal creature primate reptile amphibian wildlife quokka wombat platypus marsupial chameleon "
        "salamander newt axolotl tarantula scorpion snail slug worm jellyfish starfish seahorse manatee orca "
        "narwhal ladybird ladybug beetle ant moth dragonfly grasshopper caterpillar bumblebee wasp hummingbird "
        "vicuna tapir okapi warthog aardvark anteater pangolin"
    )
)

# Things with no COCO class that fill a photo when a post is about them.
ARTWORKS = frozenset(
    _w(
        "painting portrait artwork mural sculpture statue fresco masterpiece drawing sketch canvas poster "
        "photograph photo picture illustration print tapestry mosaic graffiti"
    )
)

# Built landmarks: a place, but one a photo can be of (it fills the frame), unlike a city or a state.
LANDMARKS = frozenset(
    _w(
        "castle palace bridge tower cathedral church chapel temple mosque monument lighthouse abbey fortress "
        "fort pyramid skyscraper windmill ruins basilica shrine pagoda statue"
    )
)

# Heads that are never an object in view (the entity may still be written in the image: OCR).
ABSTRACT = frozenset(
    _w(
        "company corporation firm agency organisation organization chain startup business retailer store "
        "restaurant cafe shop university college school institute museum institution government party league "
        "federation association union foundation charity network channel newspaper magazine label studio city "
        "town village state country nation region province county capital park garden island mountain river "
        "lake beach street neighborhood neighbourhood borough district venue stadium arena racetrack palace "
        "building church cathedral temple bridge tower landmark event festival race tournament championship "
        "game match season mission program programme show series film movie song album holiday day hashtag "
        "campaign conference award prize telescope software library app language website platform strip "
        "character newsletter podcast airport station hotel resort continent planet galaxy area place space "
        "hall center centre square market zoo farm ranch office headquarters department ministry court "
        "parliament congress senate council committee army navy force police service system project initiative "
        "movement religion tradition style genre cuisine dish recipe technology month week weekend night "
        "morning year anniversary birthday celebration ceremony parade concert competition derby marathon expo "
        "fair summit rally election war battle era decade bar pub brewery bakery bistro diner sanctuary "
        "shelter viewpoint toolkit framework logo emblem badge trademark"
    )
)

# Organisation heads that make or run something visible: the product in view is the organisation's.
MAKERS = frozenset(_w("maker manufacturer automaker carmaker brand producer builder airline shipbuilder"))

# Words that put the entity in a story, not in front of a camera.
FICTIONAL = frozenset(_w("comic cartoon fictional animated anime mythical legendary fairy imaginary"))

# Placeholder heads: the real head is the noun they stand for ("a motorcycle model", "a breed of dog").
PLACEHOLDERS = frozenset(
    _w("model breed kind type species variety version edition make name one sort logo mascot emblem")
)

# Brand names in an entity's name or description, for the organisation -> product rule and for MISC names.
BRANDS: dict[str, str] = {
    **dict.fromkeys(_w("yamaha harley ducati kawasaki suzuki triumph vespa"), "motorcycle"),
    **dict.fromkeys(
        _w(
            "ferrari porsche toyota bmw audi tesla volkswagen vw mercedes ford honda nissan lamborghini "
            "mclaren bugatti volvo subaru mazda hyundai kia jaguar fiat renault peugeot chevrolet chevy "
            "cadillac landrover rover lexus"
        ),
        "car",
    ),
    **dict.fromkeys(_w("boeing airbus cessna embraer"), "airplane"),
    **dict.fromkeys(_w("iphone pixel galaxy"), "cell phone"),
    **dict.fromkeys(_w("macbook thinkpad"), "laptop"),
}

# Words of a description's first noun phrase end at these (the head is the last word before them).
_BOUNDARY = re.compile(
    r"[,;:.()!?]|\s(?:who|whom|whose|which|that|owned|made|built|created|designed|founded|based|located|known|"
    r"named|called|by|from|in|at|on|with|for|of|to|as|where|when|while|since|during|near|under|over|after|"
    r"before|about|like|than|and\s+(?:a|an|the|his|her|their|its)\b|is|was|are|were|has|had|"
    r"[a-z]+ing\s+(?:a|an|the|his|her|their|its|my|our|some|two|three|on|up|off|out)\b)\s",
    re.IGNORECASE,
)
# "Bruno is ...", "He was ...": a name or pronoun and a copula before the phrase.
_COPULA = re.compile(
    r"^(?:(?:[A-Z][\w'’.&-]*|(?i:he|she|it|they|this|who))\s+){0,4}(?i:is|was|are|were)\s+"
    r"(?i:(?:also|now|probably|likely|actually)\s+)?"
)
_ARTICLE = re.compile(r"^(?:a|an|the|one|some|this|that|his|her|their|its|my|our|your)\s+", re.IGNORECASE)
_WORD = re.compile(r"[a-z]+")

_CLASS_OF_WORD: dict[str, str] = {w: c for c, words in COCO_WORDS.items() for w in words}


@dataclass(frozen=True)
class Target:
    """What to look for: COCO classes best first, the kind of thing, and how it was decided (`rule`)."""

    classes: tuple[str, ...]
    kind: Kind
    head: str
    rule: str
    # A maker or brand: its product's class counts only as "the organisation's product in view".
    product_of: bool = False
    words: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_person(self) -> bool:
        return self.classes[:1] == (PERSON,)

    @property
    def is_group(self) -> bool:
        """A team, band or club: its people, not one person."""
        return self.is_person and self.head in GROUPS


def singular(word: str) -> str:
    if word in _CLASS_OF_WORD or len(word) <= 3:
        return word
    for suffix, repl in (("ies", "y"), ("ves", "f"), ("ches", "ch"), ("shes", "sh"), ("xes", "x"), ("s", "")):
        if word.endswith(suffix) and not word.endswith("ss"):
            candidate = word[: -len(suffix)] + repl
            if candidate in _CLASS_OF_WORD or candidate in OTHER_ANIMALS or candidate in ABSTRACT:
                return candidate
            if suffix == "s":
                return candidate
    return word


def _kind_of_class(cls: str) -> Kind:
    if cls == PERSON:
        return "person"
    if cls in ANIMAL_CLASSES:
        return "animal"
    if cls in VEHICLE_CLASSES:
        return "vehicle"
    return "object"


_FIRST_COPULA = re.compile(r"\s(?:is|are|was|were)\s+(?:(?:also|now|probably|likely|actually)\s+)?", re.IGNORECASE)
_RELATIVE = re.compile(r"\s(?:who|which|that|whose)\s", re.IGNORECASE)


def _after_copula(text: str) -> str:
    """ "The Hjørring Sharks 🎱 is a Danish football team" -> "a Danish football team": a sentence about the
    entity says what it is after its first copula, unless that copula is in a relative clause ("a dog who is
    owned by Jess") or far from the start."""
    copula = _FIRST_COPULA.search(" " + text)
    if copula is None:
        return text
    relative = _RELATIVE.search(" " + text)
    if relative is not None and relative.start() < copula.start():
        return text
    if len(text[: max(0, copula.start() - 1)].split()) > 8:
        return text
    return text[max(0, copula.end() - 1) :]


def first_phrase(description: str, entity: str = "") -> list[str]:
    """The words of the description's first noun phrase (lowercased, singular)."""
    text = description.strip()
    if entity and text.casefold().startswith(entity.casefold()):
        # "Bruno, a golden retriever", "Falcon 9 (a rocket)": the name, then what it is.
        text = text[len(entity) :].lstrip(" ,;:(–—-")
    text = _after_copula(_COPULA.sub("", text.strip(), count=1))
    text = _ARTICLE.sub("", text, count=1)
    cut = _BOUNDARY.search(" " + text + " ")
    phrase = (" " + text + " ")[: cut.start()] if cut else text
    return [singular(w) for w in _WORD.findall(phrase.casefold())]


def _lookup(word: str) -> tuple[str | None, Kind | None]:
    """A word's class and kind; (None, None) when the lexicon does not know it."""
    if word in _CLASS_OF_WORD:
        cls = _CLASS_OF_WORD[word]
        return cls, _kind_of_class(cls)
    if word in OTHER_ANIMALS:
        return None, "animal"
    if word in ARTWORKS:
        return None, "artwork"
    if word in ABSTRACT or word in MAKERS:
        return None, "abstract"
    return None, None


def _after_of(description: str, entity: str) -> list[str]:
    """The first noun phrase after the placeholder's "of" ("a breed of dog" -> [dog])."""
    match = re.search(r"\bof\s+(.*)", description, re.IGNORECASE)
    return first_phrase(match.group(1)) if match else []


_ITS = re.compile(r"[,;]\s*(?:its|their|his|her)\s+(.+)$", re.IGNORECASE)


def target_of(expression: VisualExpression) -> Target:
    """What the expression's entity is, as detector classes (see the module docstring)."""
    etype = expression.type
    description = description_of(expression)
    # "an airline, its planes": what is seen of the entity is named after the comma.
    its = _ITS.search(description)
    if its is not None and etype is not EntityType.LOC:
        description = its.group(1)
    words = first_phrase(description, expression.entity)
    name_words = [w.casefold() for w in _WORD.findall(expression.entity.casefold())]
    if words and set(words) <= {singular(w) for w in name_words}:
        # "the Hjørring Sharks, a professional football team": the phrase only repeats the name (whose own
        # words are never the head: "Sharks" is no animal); what it is comes after.
        rest = re.split(r"[,;:(]|\s[-–—]\s", description, maxsplit=1)
        words = first_phrase(rest[1]) if len(rest) == 2 else []
    if words and words[-1] in PLACEHOLDERS:
        before = [w for w in words[:-1] if _lookup(w)[1] not in (None, "abstract")]
        words = words[:-1] if before else (_after_of(description, expression.entity) or words)
    if etype is EntityType.LOC:
        landmark = next((w for w in [*words[-1:], *map(singular, name_words)] if w in LANDMARKS), None)
        if landmark is not None:
            return Target((), "landmark", landmark, "loc:landmark")
        return Target((), "abstract", words[-1] if words else "", "loc")
    fictional = any(w in FICTIONAL for w in words)
    if words:
        head = words[-1]
        cls, kind = _lookup(head)
        if etype is EntityType.PER and (kind == "abstract" or (fictional and kind != "person")):
            # A PER the description calls a company, a city or a character: the small LLM is wrong about a name
            # far more often than the tagger, so the type's prior stands ("Lotte (PER) – a Danish company").
            return Target((PERSON,), "person", head, "prior:PER-over-" + ("fictional" if fictional else "abstract"))
        if fictional and kind != "person":
            return Target((), "abstract", head, "fictional")
        if kind == "abstract":
            if head in MAKERS:
                product = _product(words[:-1] + name_words)
                if product:
                    return Target((product,), _kind_of_class(product), head, "maker", product_of=True)
            return Target((), "abstract", head, "head:abstract")
        if cls is not None and kind is not None:
            return Target((cls,), kind, head, "head")
        if kind in ("animal", "artwork"):
            # No COCO class: an animal takes the best animal detection; both may fall back to the main subject.
            classes = ANIMAL_CLASSES if kind == "animal" else ()
            return Target(classes, kind, head, "head:" + kind)
        # An unknown head: the phrase's other words, right to left, then the type's prior.
        for word in reversed(words[:-1]):
            cls, kind = _lookup(word)
            if cls is not None and kind is not None and (etype is not EntityType.PER or kind == "animal"):
                return Target((cls,), kind, head, "modifier")
    if etype is EntityType.PER:
        return Target((PERSON,), "person", words[-1] if words else "", "prior:PER")
    for word in name_words:
        if word in BRANDS:
            return Target((BRANDS[word],), _kind_of_class(BRANDS[word]), word, "brand", product_of=True)
    # Other words of a name are not read as classes: "Falcon 9" is no bird, "Chicago Bulls" no cattle (what the
    # post calls the entity is read by the grounder: "Chelsea the cat").
    return Target((), "unknown", words[-1] if words else "", "unknown")


def word_target(word: str) -> Target | None:
    """The target a single word names when the lexicon knows it as something in view (a class, an animal, an
    artwork); None otherwise. For what the post itself calls an entity ("Reginald the capybara")."""
    word = singular(word.casefold())
    cls, kind = _lookup(word)
    if cls is not None and kind is not None:
        return Target((cls,), kind, word, "post")
    if kind == "animal":
        return Target(ANIMAL_CLASSES, "animal", word, "post")
    if kind == "artwork":
        return Target((), "artwork", word, "post")
    return None


def _product(words: list[str]) -> str | None:
    for word in reversed(words):
        if word in BRANDS:
            return BRANDS[word]
        cls, kind = _lookup(word)
        if cls is not None and kind in ("vehicle", "object", "animal"):
            return cls
    return None


@lru_cache(maxsize=4096)
def _cached(entity: str, etype: EntityType, expression: str) -> Target:
    return target_of(VisualExpression(entity=entity, type=etype, expression=expression))


def target(expression: VisualExpression) -> Target:
    """`target_of`, cached (VE and VG ask about the same expressions)."""
    return _cached(expression.entity, expression.type, expression.expression)
