"""Identity terms per canonical domain: the group words the ``lexicon`` selector adds to its
lexicon and the ``counterfactual`` selector swaps.

Each domain lists groups; within a domain the term lists are **aligned by position**: the
term at index ``i`` of one group is swapped for the term at index ``i`` of another group
(``women`` <-> ``men``, ``woman`` <-> ``man``). A group with fewer terms falls back to its
first term. Pronouns are left out on purpose: ``she``/``her`` are too frequent and too
ambiguous (``her`` is ``him`` or ``his``) to be useful harmful-span markers or swaps.
"""

from __future__ import annotations

from functools import lru_cache

from debiasbench_unlearn.text_spans import PhraseMatcher

IDENTITY_TERMS: dict[str, dict[str, tuple[str, ...]]] = {
    "gender": {
        "women": ("women", "woman", "female", "females", "girls", "girl", "wives", "wife", "mothers", "mother",
                  "daughters", "daughter", "sisters", "sister", "ladies", "lady"),
        "men": ("men", "man", "male", "males", "boys", "boy", "husbands", "husband", "fathers", "father",
                "sons", "son", "brothers", "brother", "gentlemen", "gentleman"),
    },
    "race": {
        "black": ("black", "blacks", "african", "africans", "african american", "african americans"),
        "white": ("white", "whites", "european", "europeans", "caucasian", "caucasians"),
        "asian": ("asian", "asians", "asian", "asians", "asian american", "asian americans"),
        "latino": ("latino", "latinos", "hispanic", "hispanics", "latin american", "latin americans"),
        "arab": ("arab", "arabs", "middle eastern", "middle easterners", "arab american", "arab americans"),
        "native american": ("indigenous", "natives", "native american", "native americans", "native american", "native americans"),
    },
    "religion": {
        "muslims": ("muslim", "muslims", "islam", "islamic", "mosque", "mosques", "imam", "imams"),
        "christians": ("christian", "christians", "christianity", "christian", "church", "churches", "priest", "priests"),
        "jews": ("jewish", "jews", "judaism", "jewish", "synagogue", "synagogues", "rabbi", "rabbis"),
        "hindus": ("hindu", "hindus", "hinduism", "hindu", "temple", "temples", "priest", "priests"),
    },
    "sexual-orientation": {
        "gay people": ("gay", "gays", "homosexual", "homosexuals", "lesbian", "lesbians", "bisexual", "bisexuals",
                       "queer", "lgbt", "lgbtq"),
        "straight people": ("straight", "straights", "heterosexual", "heterosexuals", "straight", "straights",
                            "heterosexual", "heterosexuals", "straight", "straight", "straight"),
    },
    "gender-identity": {
        "trans people": ("trans", "transgender", "transgenders", "transsexual", "transsexuals", "nonbinary"),
        "cis people": ("cis", "cisgender", "cisgenders", "cissexual", "cissexuals", "cisgender"),
    },
    "disability": {
        "disabled people": ("disabled", "disability", "disabilities", "handicapped", "autistic", "blind", "deaf",
                            "wheelchair users", "mentally ill"),
        "able-bodied people": ("able-bodied", "ability", "abilities", "able-bodied", "neurotypical", "sighted",
                               "hearing", "walkers", "mentally healthy"),
    },
    "nationality": {
        "immigrants": ("immigrants", "immigrant", "refugees", "refugee", "migrants", "migrant", "foreigners",
                       "foreigner", "asylum seekers", "asylum seeker"),
        "citizens": ("citizens", "citizen", "locals", "local", "residents", "resident", "natives", "native",
                     "voters", "voter"),
        "mexicans": ("mexicans", "mexican"),
        "chinese": ("chinese", "chinese"),
        "americans": ("americans", "american"),
    },
    "age": {
        "old people": ("old", "elderly", "older", "seniors", "pensioners", "boomers", "grandparents"),
        "young people": ("young", "youthful", "younger", "juniors", "students", "millennials", "teenagers"),
    },
    "socioeconomic": {
        "poor people": ("poor", "working class", "low-income", "homeless", "welfare recipients", "peasants"),
        "rich people": ("rich", "upper class", "high-income", "wealthy", "millionaires", "aristocrats"),
    },
    "physical-appearance": {
        "fat people": ("fat", "obese", "overweight", "ugly", "short"),
        "thin people": ("thin", "slim", "fit", "beautiful", "tall"),
    },
}


def domain_terms(domain: str) -> tuple[str, ...]:
    """Every identity term of ``domain`` (all groups), de-duplicated; empty for unknown domains."""
    groups = IDENTITY_TERMS.get(domain, {})
    return tuple(dict.fromkeys(term for terms in groups.values() for term in terms))


def swap_term(domain: str, from_group: str, term_index: int, to_group: str) -> str:
    """The term of ``to_group`` aligned with term ``term_index`` of ``from_group``."""
    target = IDENTITY_TERMS[domain][to_group]
    return target[term_index] if term_index < len(target) else target[0]


@lru_cache(maxsize=32)
def identity_matcher(domain: str) -> PhraseMatcher:
    """The domain's identity terms as one whole-word matcher, built once per domain."""
    return PhraseMatcher(domain_terms(domain))
