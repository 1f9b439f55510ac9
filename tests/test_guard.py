"""The semantic guard: which stored questions may answer a request, as both tiers decide it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.semantic_guard import (
    Candidate,
    accepted_candidates,
    cosine_from_score,
    guard,
    scope_filter,
    semantic_eligible,
)

REJECTED = [
    # (why, stored question, request)
    ("numbers", "What is 15% of 80?", "What is 15% of 90?"),
    ("numbers", "Give me 5 ideas for a party.", "Give me ten ideas for a party."),
    ("numbers", "Is 1,000 a big number?", "Is 1,001 a big number?"),
    (
        "numbers",
        "Explain the 2nd law of thermodynamics.",
        "Explain the third law of thermodynamics.",
    ),
    ("units", "How long does it take to walk 10 km?", "How long does it take to walk 10 miles?"),
    ("money", "Convert 100 dollars to yen.", "Convert 100 euros to yen."),
    ("money", "Is $50 a fair price?", "Is £50 a fair price?"),
    ("dates", "What's the forecast for today?", "What's the forecast for tomorrow?"),
    ("dates", "What happened this week?", "What happened last week?"),
    ("dates", "Is the shop open on Monday?", "Is the shop open on Friday?"),
    ("dates", "Remind me at 6pm.", "Remind me at 6am."),
    ("dates", "What happens on May 1?", "What happens on June 1?"),
    ("negation", "Which foods are safe for dogs?", "Which foods are not safe for dogs?"),
    ("negation", "Why does my build work?", "Why doesn't my build work?"),
    ("negation", "Make coffee with sugar.", "Make coffee without sugar."),
    ("opposites", "Name three primary colours.", "Name three secondary colours."),
    ("opposites", "What is the cheapest flight?", "What is the most expensive flight?"),
    ("opposites", "Which is the warmest month?", "Which is the coldest month?"),
    ("opposites", "How do I enable dark mode?", "How do I disable dark mode?"),
    ("opposites", "What should I eat before a run?", "What should I eat after a run?"),
    ("opposites", "Write a formal reply.", "Write an informal reply."),
    ("opposites", "Is this move legal?", "Is this move illegal?"),
    ("opposites", "What is the best-selling book?", "What is the worst-selling book?"),
    ("quoted", 'What does "idempotent" mean?', 'What does "immutable" mean?'),
    ("quoted", "Translate 'good luck' to Spanish.", "Translate 'well done' to Spanish."),
    ("entities", "What is the capital of Austria?", "What is the capital of Australia?"),
    ("entities", "How do I install it on Ubuntu?", "How do I install it on Fedora?"),
    ("entities", "Paris is lovely in spring, isn't it?", "Berlin is lovely in spring, isn't it?"),
    ("entities", "How do I sort a list in JavaScript?", "How do I sort a list in TypeScript?"),
    ("order", "How do I get from Paris to Berlin?", "How do I get from Berlin to Paris?"),
    ("order", "Is Python faster than Java?", "Is Java faster than Python?"),
    ("order", "Did Alice pay Bob?", "Did Bob pay Alice?"),
    ("order", "convert 5 miles to km", "convert 5 km to miles"),
    ("order", "move files from inbox to archive", "move files from archive to inbox"),
    ("script", "What time is it in Tokyo?", "東京は今何時ですか？"),
    ("script", "How do I cancel my subscription?", "Как отменить подписку?"),
    ("negation", "Can I record a call w/ consent?", "can i record a call w/o consent"),
    ("language", "What is the capital of France?", "Quelle est la capitale de la France ?"),
    ("language", "How do I make pancakes?", "¿Cómo se hacen los panqueques?"),
]

ALLOWED = [
    ("How do I reset my password?", "How can I reset my password?"),
    ("What is the capital of Australia?", "Which city is Australia's capital?"),
    ("How many calories are in 2 eggs?", "How many calories do two eggs have?"),
    ("Why doesn't my code work?", "Why does my code not work?"),
    ("How do I install Node.js on Ubuntu?", "What's the way to install Node.js on Ubuntu?"),
    ("what is the capital of Germany", "What is the capital of germany?"),
    ("Explain recursion to a beginner.", "Can you explain recursion for a beginner?"),
    ("Convert 5 miles to km.", "How many km is 5 miles?"),
    ("Can I record a call without consent?", "can i record a call w/o consent"),
    (
        "What's the difference between sync and async code?",
        "What's the difference between async and sync code?",
    ),
    # a comparison written in words on one side, arrows as "to", "= ?" asking for a result
    ("bash if num >= 10", "In bash, how do I test whether num is greater than or equal to 10?"),
    ("cancel train ticket -> full refund?", "If I cancel my train ticket, do I get a full refund?"),
    ("12 x 7 = ?", "12 x 7"),
    # case is part of a name only in flags, units and words cased inside
    ("HOW DO I RESET MY PASSWORD", "How do I reset my password?"),
    ("is my iPhone 15 battery ok", "is my iphone 15 battery ok"),
    ("a 5 MB upload limit", "a 5 mb upload limit"),
    ("what does grep -i do", "What does grep -i do?"),
    # an emoji named in words, the same symbol twice
    ("what does 🙏 mean in a text", "what does the praying hands emoji mean in a text"),
    ("is 25°C warm for a swim", "is 25 °C warm for a swim?"),
]

# Structural checks (shared.semantic_verify): shapes of near-misses no word list names.
STRUCTURAL = [
    ("affix", "How do I upgrade my plan mid-month?", "How do I downgrade my plan mid-month?"),
    ("affix", "Should the proxy send traffic upstream?", "Should it send traffic downstream?"),
    ("affix", "Is the pool upstairs?", "Is the pool downstairs?"),
    ("affix", "What time is check-in at the hotel?", "What time is check-out at the hotel?"),
    ("affix", "Is the price pre-tax?", "Is the price post-tax?"),
    ("operator", "What is 12 times 7?", "What is 12 plus 7?"),
    ("operator", "What is 45 divided by 9?", "What is 45 - 9?"),
    ("sign", "What is -100 minus 37?", "What is 100 minus 37?"),
    ("numbers", "What is 15% of 80?", "What is 80% of 15?"),
    ("numbers", "What is 2 to the power of 10?", "What is 10 to the power of 2?"),
    ("swap", "Is the store open on Sunday?", "Is the pharmacy open on Sunday?"),
    ("swap", "How do I request parental leave?", "How do I request sick leave?"),
    ("symbols", "why does while i < n loop forever", "why does while i > n loop forever"),
    ("symbols", "what does x == None return in python", "what does x != None return in python"),
    ("symbols", "is 0.1+0.2==0.3 true in js", "is 0.1+0.2===0.3 true in js"),
    ("symbols", "sql where x <> 5 meaning", "sql where x = 5 meaning"),
    ("symbols", "when is if a && b true in js", "when is if a || b true in js"),
    ("case", "what does ls -L do", "what does ls -l do"),
    ("case", "git log -S vs -G", "git log -s vs -g"),
    ("case", "is 5 mW a lot for a laser", "is 5 MW a lot for a laser"),
    ("case", "how many MB in 1 Gb", "how many MB in 1 GB"),
    ("case", "is a 5 kB file small", "is a 5 KB file small"),
    ("accents", "how do I type é on a mac", "how do I type è on a mac"),
    ("glyphs", "what does 🙏 mean in a text", "what does 😂 mean in a text"),
    ("glyphs", "what does the ∑ symbol mean", "what does the ∫ symbol mean"),
]
# The price of the single-swap check, measured on the development half (it removed 24
# near-misses and 15 paraphrases there): a lone synonym swapped in is a miss, never a wrong hit.
SWAPPED_SYNONYMS = [
    ("What is the largest ocean?", "Which ocean is the biggest?"),
    ("How do I turn off notifications?", "How can I disable notifications?"),
]


@pytest.mark.parametrize(
    ("why", "stored", "request_text"), REJECTED, ids=[f"{r[0]}:{r[2][:30]}" for r in REJECTED]
)
def test_rejects_a_question_that_wants_another_answer(
    why: str, stored: str, request_text: str
) -> None:
    assert guard(request_text, stored) == why
    assert guard(stored, request_text) is not None  # whichever of the two was stored first


@pytest.mark.parametrize(("stored", "request_text"), ALLOWED, ids=[a[1][:30] for a in ALLOWED])
def test_allows_a_rewording(stored: str, request_text: str) -> None:
    assert guard(request_text, stored) is None


@pytest.mark.parametrize(("why", "stored", "request_text"), STRUCTURAL)
def test_rejects_a_near_miss_by_its_shape(why: str, stored: str, request_text: str) -> None:
    assert guard(request_text, stored) == why
    assert guard(stored, request_text) == why


@pytest.mark.parametrize(("stored", "request_text"), SWAPPED_SYNONYMS)
def test_a_single_swapped_word_is_a_miss_even_when_it_is_a_synonym(
    stored: str, request_text: str
) -> None:
    assert guard(request_text, stored) == "swap"


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=120)


@given(TEXT)
def test_a_question_always_matches_itself(text: str) -> None:
    assert guard(text, text) is None


@given(
    st.text(st.sampled_from("abcdef ghij?"), min_size=1, max_size=40),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
)
def test_a_changed_number_is_always_rejected(words: str, first: int, second: int) -> None:
    stored, request_text = f"{words} {first} items", f"{words} {second} items"
    assert (guard(request_text, stored) is None) == (first == second)


@given(TEXT, TEXT)
def test_never_raises(a: str, b: str) -> None:
    assert guard(a, b) is None or isinstance(guard(a, b), str)


SCOPE = "ab" * 32


def match(
    vector_id: str, cosine: float, text: str, scope: str = SCOPE
) -> tuple[str, float, dict[str, str]]:
    return (vector_id, (1 + cosine) / 2, {"scope": scope, "text": text})


def test_candidates_are_filtered_by_threshold_scope_and_guard_and_ranked() -> None:
    matches = [
        match("low", 0.80, "How can I reset my password?"),
        match("other-scope", 0.99, "How can I reset my password?", scope="cd" * 32),
        match("guarded", 0.99, "How do I reset my password in 2 steps?"),
        match("good", 0.93, "How can I reset my password?"),
        match("best", 0.97, "how do i reset my password"),
        ("no-metadata", 1.0, None),
    ]
    got = accepted_candidates("How do I reset my password?", SCOPE, matches, 0.92)
    assert [c.fingerprint for c in got] == ["best", "good"]
    # The stored question travels with it, for the origin's pair verifier.
    assert got[0] == Candidate("best", pytest.approx(0.97), "how do i reset my password")


@pytest.mark.parametrize(("score", "cosine"), [(1.0, 1.0), (0.5, 0.0), (0.975, 0.95), (0.0, -1.0)])
def test_upstash_score_back_to_cosine(score: float, cosine: float) -> None:
    assert cosine_from_score(score) == pytest.approx(cosine)


def test_scope_filter_only_takes_a_digest() -> None:
    assert scope_filter(SCOPE) == f"scope = '{SCOPE}'"
    with pytest.raises(ValueError):
        scope_filter("x' OR scope != '")


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


ELIGIBILITY = [
    ("one question", {"messages": [user("hi")]}, True),
    (
        "system and three turns",
        {
            "messages": [
                {"role": "system", "content": "s"},
                user("a"),
                {"role": "assistant", "content": "b"},
                user("c"),
                {"role": "assistant", "content": "d"},
                user("e"),
            ]
        },
        True,
    ),
    ("four user turns", {"messages": [user("a"), user("b"), user("c"), user("d")]}, False),
    ("tools offered", {"messages": [user("a")], "tools": [{"type": "function"}]}, False),
    ("legacy functions", {"messages": [user("a")], "functions": [{"name": "f"}]}, False),
    ("tool result", {"messages": [user("a"), {"role": "tool", "content": "r"}]}, False),
    (
        "assistant called a tool",
        {"messages": [user("a"), {"role": "assistant", "tool_calls": [{"id": "1"}]}]},
        False,
    ),
    ("no messages", {"messages": []}, False),
    ("messages not a list", {"messages": "hi"}, False),
]


@pytest.mark.parametrize(
    ("body", "eligible"), [e[1:] for e in ELIGIBILITY], ids=[e[0] for e in ELIGIBILITY]
)
def test_semantic_eligibility(body: dict[str, object], eligible: bool) -> None:
    assert semantic_eligible(body) is eligible


def test_turn_limit_is_configurable() -> None:
    body = {"messages": [user("a"), user("b"), user("c"), user("d")]}
    assert semantic_eligible(body, max_user_turns=4)
    assert not semantic_eligible(body, max_user_turns=1)
