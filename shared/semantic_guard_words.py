"""The word lists the semantic guard (shared.semantic_facts) compares questions on. Data only.

English first; a few function words per language let the guard tell languages apart. The lists
err on the side of more words: an extra entry can only turn a cache hit into a miss.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _numbers() -> dict[str, str]:
    return {**_cardinals(), **_ordinals(), **_multipliers()}


def _counted(words: str, start: int = 0, step: int = 1) -> dict[str, str]:
    """Each of `words` mapped to `step` times its place, counting from `start`: 30, 40 ... below."""
    return {word: str(step * i) for i, word in enumerate(words.split(), start=start)}


def _cardinals() -> dict[str, str]:
    return {
        **_counted(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen"
            " fourteen fifteen sixteen seventeen eighteen nineteen twenty"
        ),
        **_counted("thirty forty fifty sixty seventy eighty ninety", start=3, step=10),
    }


def _ordinals() -> dict[str, str]:
    return _counted("first second third fourth fifth sixth seventh eighth ninth tenth", start=1)


def _multipliers() -> dict[str, str]:
    """Words that scale or stand for a number: hundred, dozen, half, twice ..."""
    return {
        "hundred": "100",
        "thousand": "1000",
        "million": "10^6",
        "billion": "10^9",
        "dozen": "12",
        "half": "0.5",
        "twice": "2",
        "double": "2",
        "triple": "3",
        "quarter": "0.25",
    }


def _aliases(groups: dict[str, str]) -> dict[str, str]:
    """{"km kilometer kilometre": "km"} -> every word of a group mapped to its canonical name."""
    return {word: name for words, name in groups.items() for word in words.split()}


NUMBER_WORDS = _numbers()
# Spelled-out numbers are read whole from these (shared.spelled_numbers.respell).
CARDINALS = {word: int(value) for word, value in _cardinals().items()}
SCALES = {"hundred": 100, "thousand": 1000}
# "one" after these is a pronoun ("which one"), not a number.
ONE_AS_PRONOUN = _words("which this that the each any every no another")
UNITS = _aliases(
    {
        "km kilometer kilometre kms": "km",
        "mi mile miles": "mi",
        "m meter metre": "m",
        "cm centimeter centimetre": "cm",
        "ft foot feet": "ft",
        "inch inches": "in",
        "kg kilo kilogram kilos": "kg",
        "g gram grams": "g",
        "lb lbs": "lb",
        "oz ounce": "oz",
        "ml milliliter millilitre": "ml",
        "l liter litre": "l",
        "gallon": "gal",
        "celsius centigrade": "c",
        "fahrenheit": "f",
        "kb kilobyte": "kb",
        "mb megabyte": "mb",
        "gb gigabyte": "gb",
        "tb terabyte": "tb",
        "mph": "mph",
        "kmh km/h": "kmh",
    }
)
MONEY = _aliases(
    {
        "$ usd dollar buck": "usd",
        "€ eur euro": "eur",
        "£ gbp sterling pound": "gbp",
        "¥ jpy yen": "jpy",
        "₹ inr rupee": "inr",
        "₩ krw": "krw",
        "chf franc": "chf",
        **{
            c: c
            for c in [
                "cad",
                "aud",
                "nzd",
                "cny",
                "rmb",
                "mxn",
                "brl",
                "sek",
                "nok",
                "dkk",
                "pln",
                "btc",
                "eth",
                "peso",
                "yuan",
                "bitcoin",
                "cent",
                "penny",
            ]
        },
    }
)
MONTHS = _words(
    "january february march april may june july august september october november december"
)
AMBIGUOUS_MONTHS = _words("may march")  # also verbs: months only next to a number or capitalised
DAY_WORDS = _words(
    "monday tuesday wednesday thursday friday saturday sunday today tonight "
    "tomorrow yesterday weekend weekday morning afternoon evening night noon "
    "midnight spring summer autumn winter christmas easter"
)
PERIODS = (
    _words(
        "day week weekend month year quarter decade century season semester night "
        "morning evening time"
    )
    | MONTHS
    | DAY_WORDS
)
RELATIVE = _words("next last this previous coming past current ago")
NEGATIONS = _words("not no never none nobody nothing nowhere neither nor without cannot non nope")
DIRECTIONAL = _words(
    "from to into onto than vs versus toward towards in on at over under above below before after"
)
DETERMINERS = _words("the a an my your our their his her its this that these those some any")
# Frequent words that start questions and commands; capitalised at a sentence's start they are
# not names. Anything else capitalised there ("Paris is ...") is taken as a name.
COMMON = _words(
    "a an the what whats what's which who whom whose why when where how is are was were be been "
    "do does did done can could should would will shall may might must have has had i i'm i've "
    "i'd i'll me my mine we us our you your yours he she it its they them their there here this "
    "that these those please tell give show list explain describe write summarize summarise "
    "translate compare find make create help suggest recommend convert calculate define draft "
    "generate set book order remind move send get let name any some all every each no not yes "
    "and or but if then so in on at to from for of with by about as into after before during "
    "ok hi hello hey thanks thank good best better top most more less many much few one two "
    "three four five six seven eight nine ten first second third new old other another again "
    "also just only still even now today tomorrow yesterday tonight"
)
LANGUAGES = {
    "en": _words(
        "the is are what how do does i my you your of and to for with can should which "
        "who why when where this that it be have has was were will would could me about "
        "from there their an not don't"
    ),
    "fr": _words(
        "le la les est sont des du un une et je mon ma mes vous votre pour avec dans sur "
        "comment quel quelle quels quelles qui pourquoi ce cette ne pas au aux c'est "
        "d'ouverture est-ce"
    ),
    "es": _words(
        "el los las es son del y yo mi mis usted tu para con cómo qué cuál cuáles quién "
        "por porque este esta estos muy pero también está estás días artículo"
    ),
    "de": _words(
        "der die das ist sind und ich mein meine sie wie was warum wer mit für auf ein "
        "eine einen nicht über zu im den dem des schreibe kurzes"
    ),
    "it": _words(
        "il lo gli è sono io mio mia come cosa perché chi per della che non si fanno raccontami"
    ),
    "pt": _words(
        "o os é são eu meu minha como quem com para uma um da do dos das em não você explique"
    ),
    "nl": _words("het een zijn ik mijn hoe wat waarom wie met voor op van niet waar"),
}
# Opposite ends of one scale ("one two | three four" = words for each end). Two questions that
# both take a side on a scale must take the same side; embeddings place the two ends close.
OPPOSITES = (
    "good better best | bad worse worst",
    "cheap cheaper cheapest inexpensive | expensive pricey pricier priciest costly",
    "large larger largest big bigger biggest huge | small smaller smallest little tiny",
    "high higher highest upper | low lower lowest",
    "fast faster fastest quick quicker quickest | slow slower slowest",
    "long longer longest | short shorter shortest",
    "old older oldest | new newer newest young younger youngest",
    "easy easier easiest simple simpler | hard harder hardest difficult complex",
    "hot hotter hottest warm warmer | cold colder coldest cool cooler",
    "heavy heavier heaviest | light lighter lightest",
    "light bright | dark darker",
    "strong stronger strongest | weak weaker weakest",
    "rich richer richest | poor poorer poorest",
    "early earlier earliest | late later latest",
    "near nearer nearest nearby | far farther farthest further furthest",
    "max maximum most more | min minimum least less fewer",
    (
        "increase increasing raise raising grow boost | decrease decreasing reduce reducing lower "
        "lowering shrink"
    ),
    "advantage pro upside benefit | disadvantage con downside drawback risk",
    "before prior | after",
    "above over | below under",
    "start begin beginning open opening | stop end finish ending close closing",
    "enable enabled activate | disable disabled deactivate",
    "add adding insert include | remove removing delete deleting exclude",
    "import | export",
    "upload uploading | download downloading",
    "buy buying purchase | sell selling",
    "win winning won | lose losing lost",
    "accept approve allow | reject deny decline block forbid",
    "encrypt encrypted | decrypt decrypted",
    "compress zip | decompress unzip",
    "lock locked | unlock unlocked",
    "install installing | uninstall uninstalling",
    "subscribe | unsubscribe",
    "connect connected | disconnect disconnected",
    "login | logout",
    "positive | negative",
    "true | false",
    "happy | sad",
    "love | hate",
    "like | dislike",
    "male man men boy | female woman women girl",
    "north northern northernmost | south southern southernmost",
    "east eastern easternmost | west western westernmost",
    "left | right",
    "top | bottom",
    "front | back",
    "inside internal inner | outside external outer",
    "primary | secondary",
    "beginner basic novice introductory | advanced expert",
    "input | output",
    "public | private",
    "online | offline",
    "wet | dry",
    "full | empty",
    "thick | thin",
    "wide | narrow",
    "deep | shallow",
    "safe safest | dangerous unsafe",
    "legal | illegal",
    "valid | invalid",
    "correct | incorrect wrong",
    "success succeed pass | fail failure",
    "always often | rarely seldom",
    "incoming inbound | outgoing outbound",
    "send sending | receive receiving",
    "ascending | descending",
    "past | future",
    "parent | child",
)
# Prefixes that turn a word into its opposite: formal/informal, safe/unsafe, typical/atypical.
NEGATING_PREFIXES = ("un", "in", "im", "il", "ir", "non", "dis", "a")


def pole_table() -> dict[str, list[tuple[int, int]]]:
    table: dict[str, list[tuple[int, int]]] = {}
    for axis, pair in enumerate(OPPOSITES):
        for side, words in enumerate(pair.split("|")):
            for word in words.split():
                table.setdefault(word, []).append((axis, side))
    return table


POLES = pole_table()
