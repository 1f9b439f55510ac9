"""The task classifier: a labelled prompt table, totality over any JSON, and bounded cost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from origin.routing.classifier import TASK_TYPES, Classification, classify
from origin.routing.router import LOW_CONFIDENCE
from origin.routing.task_model import WEIGHTS_FILE, TaskModel, featurize

PROSE = (
    "The quarterly operations review covered staffing, vendor contracts, facilities and the "
    "customer support backlog. Several teams reported that onboarding took longer than planned "
    "because equipment arrived late, and the facilities group noted that the east wing lease "
    "renewal is still under negotiation with the landlord. "
)
GERMAN = (
    "Der Bericht beschreibt die Entwicklung des Unternehmens im vergangenen Geschäftsjahr, die "
    "Lage auf dem Arbeitsmarkt, die Verhandlungen mit Lieferanten und die geplanten Umbauten im "
    "Hauptgebäude. Die Abteilungen meldeten unterschiedliche Fortschritte bei ihren Zielen. "
)
CHINESE = "本报告介绍了公司在过去一年中的发展情况，包括市场变化、供应商谈判以及总部大楼的翻修计划。各部门的目标完成情况各不相同。"


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def with_system(system: str, text: str) -> dict[str, Any]:
    return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": text}]}


def chat(*turns: str) -> dict[str, Any]:
    roles = ("user", "assistant")
    return {"messages": [{"role": roles[i % 2], "content": t} for i, t in enumerate(turns)]}


def long_document(instruction: str) -> dict[str, Any]:
    doc = PROSE * 80 + "Questions go to facilities-desk@example.org. " + PROSE * 20
    return user(f"{doc}\n\n{instruction}")


def documents(instruction: str) -> dict[str, Any]:
    parts = "\n\n".join(f"Document {i}:\n{PROSE * 2}" for i in range(1, 4))
    return user(f"{parts}\n\n{instruction}")


def with_tools(system: str, text: str) -> dict[str, Any]:
    tool = {"type": "function", "function": {"name": "lookup_order", "parameters": {}}}
    return {**with_system(system, text), "tools": [tool]}


# (id, body, expected task type). Labels say what the request needs, not what the heuristics
# happen to produce. DEVELOPMENT is what the cue weights were tuned on; HELD_OUT was written
# afterwards and frozen, so its misses are recorded in KNOWN_MISSES instead of tuned away.
DEVELOPMENT: list[tuple[str, dict[str, Any], str]] = [
    ("greeting", user("hi there! how's it going?"), "simple"),
    ("thanks", user("Thanks, that's perfect 🙂"), "simple"),
    ("capital", user("What is the capital of Australia?"), "simple"),
    ("translate-short", user("Translate 'good morning, how are you?' into Spanish."), "simple"),
    (
        "extract-email",
        user(
            "Extract the email address from this text: Please contact "
            "jane.doe@example.com for details."
        ),
        "simple",
    ),
    (
        "ticket-label",
        user(
            "Classify this support ticket as billing, technical or other: "
            "'I was charged twice this month.'"
        ),
        "simple",
    ),
    (
        "formalise",
        user("Rewrite this sentence to sound more formal: gonna be late, traffic is nuts"),
        "simple",
    ),
    ("names", user("Give me three name ideas for a coffee shop."), "simple"),
    ("format-date", user("Format this date as ISO 8601: March 5th, 2024"), "simple"),
    ("joke", user("Tell me a joke about cats."), "simple"),
    ("zh-chitchat", user("你好！今天过得怎么样？"), "simple"),
    (
        "ja-translate",
        user("この文章を英語に翻訳してください：私は毎朝コーヒーを飲みます。"),
        "simple",
    ),
    ("ru-chitchat", user("Привет! Как дела?"), "simple"),
    ("es-capital", user("¿Cuál es la capital de Francia?"), "simple"),
    ("ar-capital", user("ما هي عاصمة مصر؟"), "simple"),
    (
        "support-system",
        with_system(
            "You are a friendly support assistant for Acme. Keep answers short.",
            "Where can I download my invoice?",
        ),
        "simple",
    ),
    (
        "chitchat-turns",
        chat(
            "hey",
            "Hi! How can I help?",
            "just bored tbh",
            "Happy to chat. What are you up to?",
            "haha nice, what's your favourite colour?",
        ),
        "simple",
    ),
    (
        "translate-paragraph",
        user("Translate the following paragraph into French: " + PROSE),
        "simple",
    ),
    (
        "tools-lookup",
        with_tools("You help customers track orders.", "Where is my order A-1043?"),
        "simple",
    ),
    (
        "py-function",
        user("Write a Python function that checks whether a string is a palindrome."),
        "code",
    ),
    (
        "py-no-keyword",
        user(
            "for i in range(len(xs)):\n    total += xs[i]\n"
            "print(total / len(xs))\n\nmake this faster"
        ),
        "code",
    ),
    (
        "js-no-keyword",
        user("const f = (a, b) => {\n  a.map(x => x * b);\n};\nf([1, 2, 3], 2)  // undefined??"),
        "code",
    ),
    (
        "py-traceback",
        user(
            'Traceback (most recent call last):\n  File "app.py", line 12, in '
            '<module>\n    main()\n  File "app.py", line 8, in main\n    x = '
            "data['key']\nKeyError: 'key'"
        ),
        "code",
    ),
    (
        "java-trace",
        user(
            'Exception in thread "main" java.lang.NullPointerException\n\tat '
            "com.acme.Foo.bar(Foo.java:42)\n\tat com.acme.Main.main(Main.java:7)"
        ),
        "code",
    ),
    (
        "sql-fence",
        user(
            "```sql\nSELECT name, COUNT(*) FROM orders GROUP BY name HAVING "
            "COUNT(*) > 5\n```\nis this right?"
        ),
        "code",
    ),
    ("refactor-path", user("Refactor src/utils/date.ts so it no longer depends on moment"), "code"),
    ("rust-question", user("How do I reverse a linked list in Rust?"), "code"),
    (
        "ja-code",
        user(
            "このコードのバグを直してください:\n```js\nlet total = 0\n"
            "for (let i = 0; i <= arr.length; i++) { total += arr[i] }\n```"
        ),
        "code",
    ),
    (
        "go-review",
        with_system(
            "You are a senior Go engineer reviewing pull requests.",
            "func (s *Server) Close() error {\n\ts.mu.Lock()\n\treturn s.ln.Close()\n}",
        ),
        "code",
    ),
    (
        "npm-error",
        user("my build fails with: npm ERR! code ERESOLVE unable to resolve dependency tree"),
        "code",
    ),
    (
        "rust-error",
        user("error[E0382]: borrow of moved value: `v`\n  --> src/main.rs:5:20"),
        "code",
    ),
    (
        "html-center",
        user(
            '<div class="card"><img src="a.png"></div>\n'
            "the picture sits on the left, I want it centred"
        ),
        "code",
    ),
    (
        "train",
        user(
            "If a train leaves at 3pm going 60 mph and another leaves the same station "
            "at 4pm going 80 mph, when does the second train catch up?"
        ),
        "reasoning",
    ),
    ("solve-x", user("Solve for x: 3x + 7 = 22"), "reasoning"),
    ("sqrt2", user("Prove that the square root of 2 is irrational."), "reasoning"),
    (
        "refund-two-hop",
        user("What's the refund policy for orders placed before 2024-01-01?"),
        "reasoning",
    ),
    (
        "step-logic",
        user(
            "Think step by step: Alice is older than Bob and Bob is older than "
            "Carol. Who is the youngest?"
        ),
        "reasoning",
    ),
    (
        "db-tradeoffs",
        user(
            "Which is better for a read-heavy workload, Postgres or DynamoDB, "
            "and why? Compare the trade-offs."
        ),
        "reasoning",
    ),
    (
        "apples",
        user(
            "Sarah has 3 times as many apples as Tom. Together they have 24. How many "
            "does Sarah have?"
        ),
        "reasoning",
    ),
    ("ru-quadratic", user("Решите уравнение: 2x² − 5x + 3 = 0"), "reasoning"),
    ("zh-arithmetic", user("计算 (15 + 27) × 3 − 8 等于多少？"), "reasoning"),
    (
        "warranty-dates",
        user(
            "Is the customer still covered if they bought the laptop on "
            "2023-11-02, the warranty lasts 12 months from purchase, and they "
            "filed the claim on 2024-12-01?"
        ),
        "reasoning",
    ),
    ("dice", user("What is the probability of rolling two sixes with two dice?"), "reasoning"),
    (
        "vacuum-why",
        user(
            "Why don't heavier objects fall faster than lighter ones in a vacuum? "
            "Explain your reasoning."
        ),
        "reasoning",
    ),
    ("long-find-email", long_document("Find the email address in this document."), "complex"),
    (
        "multi-doc",
        documents("Synthesize these into one overview that highlights where they disagree."),
        "complex",
    ),
    (
        "essay",
        user(
            "Write a comprehensive, in-depth analysis of how remote work changed city "
            "centres, with sections and citations."
        ),
        "complex",
    ),
    (
        "long-chat",
        chat(
            *[f"Point {i}: we should look at option {i} for the launch." for i in range(29)],
            "ok, now combine everything we discussed into a final plan",
        ),
        "complex",
    ),
    ("de-long-summary", user(GERMAN * 40 + "\n\nFasse diesen Text zusammen."), "complex"),
    ("zh-long-summary", user(CHINESE * 160 + "\n\n请总结以上内容。"), "complex"),
    (
        "architecture",
        user(
            "Design the architecture for a multi-region payment system: data "
            "model, failover strategy, consistency and the rollout plan."
        ),
        "complex",
    ),
    (
        "long-system-tools",
        with_tools(
            "You are the support agent for Acme. Policies:\n" + PROSE * 30,
            "Can you help me with my last order?",
        ),
        "complex",
    ),
    (
        "summary-one-line",
        user(
            "Summarize this email in one sentence: Hi team, the offsite "
            "moves to Thursday; bring laptops."
        ),
        "simple",
    ),
    ("percent-of", user("What's 15% of 80?"), "reasoning"),
    ("closure", user("Can you explain what a closure is in JavaScript?"), "code"),
    (
        "rent-or-buy",
        user("Is it better to rent or buy a house if I plan to move in 3 years?"),
        "reasoning",
    ),
    ("fruits", user("List five fruits that are high in vitamin C."), "simple"),
    ("typo", user("Fix the typo: 'recieve the pakage tomorow'"), "simple"),
    (
        "sql-ask",
        user("Write a SQL query that returns the top 3 customers by revenue last month."),
        "code",
    ),
    (
        "wall-president",
        user("Who was the US president when the Berlin Wall fell, and how old was he then?"),
        "reasoning",
    ),
    ("poem", user("Write a short poem about autumn."), "simple"),
    ("ko-code", user('이 코드가 왜 안 되나요?\nprint("hello"'), "code"),
    (
        "c-snippet",
        user(
            "int main(void) {\n  char buf[8];\n  strcpy(buf, argv[1]);\n  return 0;"
            "\n}\nanything wrong here?"
        ),
        "code",
    ),
    (
        "yaml",
        user(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  "
            "replicas: 3\n\nthe pods keep restarting, what's wrong"
        ),
        "code",
    ),
    ("shell", user("ls -la | grep '.log' | xargs rm  -- is this safe to run in prod?"), "code"),
    (
        "rust-snippet",
        user(
            'fn main() {\n    let v = vec![1, 2, 3];\n    let w = v;\n    println!("{:?}", v);\n}'
        ),
        "code",
    ),
    ("recipe", user("Give me a recipe for banana bread that uses 3 bananas."), "simple"),
    (
        "email-tone",
        user("Make this email sound friendlier: 'Per my last email, the report is late.'"),
        "simple",
    ),
    ("meeting-time", user("If it's 9am in New York, what time is it in Tokyo?"), "reasoning"),
    (
        "logic-puzzle",
        user(
            "Three boxes are labelled apples, oranges and mixed, and every label "
            "is wrong. You may take one fruit from one box. How do you relabel "
            "them correctly?"
        ),
        "reasoning",
    ),
    (
        "market-report",
        user(
            "Write a detailed market report on the European EV battery industry "
            "covering suppliers, pricing trends, regulation and a five-year "
            "outlook."
        ),
        "complex",
    ),
    ("fr-chitchat", user("Salut ! Tu as passé un bon week-end ?"), "simple"),
]
HELD_OUT: list[tuple[str, dict[str, Any], str]] = [
    ("grammar", user("Can you check my grammar? 'Their going to the park tomorrow.'"), "simple"),
    ("http-404", user("What does HTTP 404 mean?"), "simple"),
    ("fahrenheit", user("Convert 72 degrees Fahrenheit to Celsius."), "simple"),
    (
        "react-loop",
        user(
            "My React component re-renders infinitely when I call setState inside "
            "useEffect. How do I stop it?"
        ),
        "code",
    ),
    (
        "pens",
        user(
            "A store sells pens at $2 each and notebooks at $5 each. If I spend $31 and "
            "buy 8 items, how many notebooks did I buy?"
        ),
        "reasoning",
    ),
    ("decline", user("Draft a polite reply declining the meeting invite for Friday."), "simple"),
    ("unit-tests", user("Write unit tests for this:\n\ndef add(a, b):\n    return a + b"), "code"),
    ("es-python", user("¿Cómo puedo ordenar una lista en Python?"), "code"),
    ("ru-why-sky", user("Объясни, почему небо голубое."), "simple"),
    (
        "churn",
        user(
            "Which of these customers were active in both 2023 and 2024 but churned "
            "before March 2025: Acme, Globex, Initech? Acme: active 2023, 2024, churned "
            "Feb 2025. Globex: active 2024 only. Initech: active 2023, 2024, still "
            "active."
        ),
        "reasoning",
    ),
    (
        "laptops",
        user(
            "Rank these laptops by value for money and justify it: A ($900, 16GB), "
            "B ($1200, 32GB), C ($700, 8GB)."
        ),
        "reasoning",
    ),
    ("good-night", user("Good night!"), "simple"),
    ("hi-story", user("मुझे एक छोटी सी कहानी सुनाओ"), "simple"),
    ("zip-regex", user("Generate a regex that matches US ZIP codes."), "code"),
    (
        "bullets-to-prose",
        user(
            "Can you turn these bullet points into a paragraph?\n- shipped "
            "v2\n- fixed the login issue\n- hired 2 engineers"
        ),
        "simple",
    ),
    (
        "module-not-found",
        user("Why does my Python script say 'ModuleNotFoundError: No module named requests'?"),
        "code",
    ),
    (
        "piano-tuners",
        user("Estimate how many piano tuners there are in Chicago and show your reasoning."),
        "reasoning",
    ),
    ("cover-letter", user("Write a cover letter for a junior data analyst job."), "simple"),
    (
        "contracts",
        user(
            "Compare these two contracts clause by clause and list every difference "
            "in liability, termination and payment terms.\n\nContract A: The "
            "supplier is liable for direct damages up to the fees paid in the prior "
            "twelve months. Either party may terminate with ninety days notice. "
            "Invoices are payable within thirty days.\n\nContract B: The supplier's "
            "liability is unlimited for data breaches and capped at twice the annual "
            "fees otherwise. Termination requires one hundred and twenty days notice "
            "and a cure period. Invoices are payable within forty-five days of "
            "receipt."
        ),
        "complex",
    ),
    ("hey", user("hey can u help me"), "simple"),
    ("de-days", user("Wie viele Tage sind es vom 3. März bis zum 17. April?"), "reasoning"),
    ("json-to-yaml", user('Convert this JSON to YAML: {"name": "web", "replicas": 3}'), "code"),
    (
        "bat-ball",
        user(
            "A bat and a ball cost $1.10 in total. The bat costs $1.00 more than the "
            "ball. How much does the ball cost?"
        ),
        "reasoning",
    ),
    ("ko-lunch", user("오늘 점심 뭐 먹을까?"), "simple"),
    ("regex-explain", user("Explain what this regex does: ^(?=.*[A-Z])(?=.*\\d).{8,}$"), "code"),
    ("prime-1001", user("Is 1,001 a prime number?"), "reasoning"),
    ("dog-name", user("What's a good name for a golden retriever?"), "simple"),
]
LABELLED = DEVELOPMENT + HELD_OUT
# The hand cues were tuned on this table; the learned model was trained on bench/data's dev
# half and never on these, so what it misses here is recorded, not tuned away.
KNOWN_MISSES = frozenset(
    {
        "translate-paragraph",
        "db-tradeoffs",
        "cover-letter",
        "json-to-yaml",
        "zh-chitchat",
        "de-long-summary",
        "contracts",
        "fahrenheit",
        "refund-two-hop",
        "long-find-email",
        "rent-or-buy",
        "tools-lookup",
    }
)


def test_labelled_prompts_hit_at_least_86_percent() -> None:
    # 87.9% (12 misses) since batches 56-63 (2,480 prompts) too: "solve-x" and "laptops" right
    # again, "translate-paragraph" and "refund-two-hop" wrong again, both read as complex below
    # 0.6 (0.42 and 0.24), so the router escalates them.
    # 87.9% (12 misses) since batches 20-50 (9,920 prompts, most in other languages): three
    # right again ("translate-paragraph", "refund-two-hop", "hi-story"), six now wrong. Three of
    # those read below 0.6, so the router escalates them ("contracts" as code at 0.33,
    # "tools-lookup" as complex at 0.49, "laptops" as code at 0.47). Two follow the new writers'
    # labels, not this table's: "rent or buy if I move in 3 years?" reads as complex (0.97) and
    # "Convert 72 degrees Fahrenheit to Celsius" as reasoning (0.57). "long-find-email" reads as
    # simple again (0.85).
    # 90.9% (9 misses) since batches 13-19 (2,240 prompts in 40 other languages): four right
    # again ("long-find-email", "long-system-tools", "percent-of", "ru-why-sky"), three others
    # now wrong ("zh-chitchat" and "hi-story" read as complex at 0.51 and 0.53, so escalated,
    # "de-long-summary" as simple at 0.86).
    # 89.9% (10 misses) since batch 11 (openers under every task type): "shell" now right, and
    # "long-find-email" wrong, its ask read as simple more surely than its 8,000-token paste
    # weighs; 89.9% (10) since the model learned from batches 9 and 10 too; 88.9% (11) after
    # batches 7 and 8, 86.9% (13) before them, and 10 before the ask split and grouped folds.
    misses = {name for name, body, expected in LABELLED if classify(body).task_type != expected}
    assert len(LABELLED) >= 40
    assert misses == KNOWN_MISSES
    assert 1 - len(misses) / len(LABELLED) >= 0.86


@pytest.mark.parametrize(("name", "body", "expected"), LABELLED, ids=[c[0] for c in LABELLED])
def test_labelled_prompt(name: str, body: dict[str, Any], expected: str) -> None:
    result = classify(body)
    if name in KNOWN_MISSES:
        assert result.task_type != expected
    else:
        assert result.task_type == expected, result


# "How do I ...?" is how most support and everyday questions are asked, and the sets before
# batch 11 had it almost only in code prompts: the model called them all code and `auto` sent
# them to a code model. None of these is in any labelled set.
HOW_DO_I = [
    ("How do I contact support?", "simple"),
    ("How do I log out?", "simple"),
    ("How do I export my data?", "simple"),
    ("How do I make a cup of tea?", "simple"),
    ("How do I reverse a list in Python?", "code"),
    ("How do I squash my last three commits in git?", "code"),
]


@pytest.mark.parametrize(("text", "expected"), HOW_DO_I, ids=[t for t, _ in HOW_DO_I])
def test_how_do_i_is_read_by_what_follows_not_as_code(text: str, expected: str) -> None:
    assert classify(user(text)).task_type == expected


def test_held_out_prompts_were_not_tuned_away() -> None:
    held_out_misses = {
        name for name, body, expected in HELD_OUT if classify(body).task_type != expected
    }
    assert held_out_misses <= KNOWN_MISSES
    assert len(HELD_OUT) >= 20


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)
parts = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "image_url", "x"])},
        optional={"text": json_values, "image_url": json_values},
    ),
    max_size=4,
)
roles = st.sampled_from(["system", "developer", "user", "assistant", "tool", "?"]) | json_values
messages = st.lists(
    st.fixed_dictionaries(
        {"role": roles}, optional={"content": st.none() | st.text() | parts | json_values}
    )
    | json_values,
    max_size=8,
)
bodies = (
    st.fixed_dictionaries(
        {"messages": messages},
        optional={
            "tools": json_values,
            "functions": json_values,
            "system": json_values,
            "prompt": json_values,
        },
    )
    | json_values
)


def _check(result: Classification) -> None:
    assert result.task_type in TASK_TYPES
    assert 0.0 <= result.confidence <= 1.0
    assert all(isinstance(s, str) for s in result.signals)
    assert result.est_tokens >= 0


@settings(max_examples=400, deadline=None)
@given(bodies)
def test_classify_is_total_over_json_shaped_input(body: Any) -> None:
    _check(classify(body))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=300), min_size=1, max_size=6)
)
def test_classify_is_total_over_any_text(texts: list[str]) -> None:
    _check(classify(chat(*texts)))


def test_tokens_are_estimated_as_characters_over_four_across_all_messages() -> None:
    body = with_system("s" * 400, "u" * 1200)
    body["messages"].append({"role": "assistant", "content": [{"type": "text", "text": "a" * 400}]})
    assert classify(body).est_tokens == 500


def test_only_head_and_tail_of_a_long_input_are_scanned() -> None:
    trace = 'Traceback (most recent call last):\n  File "x.py", line 1\nKeyError: 1\n'
    filler = PROSE * 400
    buried = classify(user(filler + trace + filler + "What went wrong?"))
    at_end = classify(user(filler + filler + trace + "What went wrong?"))
    assert "stack-trace" not in buried.signals
    assert "stack-trace" in at_end.signals
    # Whatever sits in the middle, only the length differs: the scan is capped.
    other = classify(user(filler + PROSE.upper() * 3 + filler + "What went wrong?"))
    assert (other.task_type, other.signals) == (buried.task_type, buried.signals)


@pytest.mark.parametrize(
    ("body", "signal"),
    [
        (
            with_system(
                "You are a senior Python engineer. Review code for bugs and refactor it.",
                "x = [i * 2 for i in y if i > 0]",
            ),
            "system-prompt",
        ),
        (with_tools("You help customers.", "Where is my parcel?"), "tools"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "What is in this picture?"},
                            {
                                "type": "image_url",
                                "image_url": {"url": "data:image/png;base64,AAAA"},
                            },
                        ],
                    }
                ]
            },
            "media",
        ),
        (chat(*["and then?"] * 30), "many-turns"),
        (long_document("Find the email address in this document."), "long-input"),
        (user("Привет! Как дела?"), "non-latin"),
        ({"messages": []}, "empty"),
    ],
)
def test_signals_name_what_fired(body: dict[str, Any], signal: str) -> None:
    assert signal in classify(body).signals


def test_system_prompt_counts_towards_the_task() -> None:
    text = "items.sort(key=len)"
    plain = classify(user(text))
    coached = classify(
        with_system(
            "You are a code reviewer for a Python codebase; point out bugs in every function.", text
        )
    )
    assert coached.task_type == "code"
    assert coached.confidence > plain.confidence or plain.task_type != "code"


TEST_HALF = Path(__file__).resolve().parent.parent / "bench" / "data" / "prompts_test.jsonl"
UNSEEN = TEST_HALF.with_name("prompts_unseen.jsonl")


@pytest.fixture(scope="module")
def test_half() -> list[tuple[dict[str, str], Classification]]:
    rows = [json.loads(line) for line in TEST_HALF.read_text("utf-8").splitlines()]
    return [(r, classify(user(r["prompt"]))) for r in rows]


# Prompts in other languages, each batch by a writer who never saw the other sets: batches 13-19
# (40 languages; the model before them got 55-64% of each batch right), 20-41, 46, 47 and 50
# (2026-12-07, some 80 languages and varieties). Batches 42-45, 48 and 49 are mostly English.
# Batches 56-63 (2,480 prompts, half English) were read whole by the model before them first.
OTHER_LANGUAGES = {f"batch{n}" for n in (*range(13, 42), 46, 47, 50)}
NEW_ENGLISH = {f"batch{n}" for n in (42, 43, 44, 45, 48, 49)}
LATEST = {f"batch{n}" for n in range(56, 64)}


def _accuracy(rows: list[tuple[dict[str, str], Classification]]) -> float:
    return sum(r["label"] == got.task_type for r, got in rows) / len(rows)


def _recall(rows: list[tuple[dict[str, str], Classification]], task: str) -> float:
    mine = [got.task_type == task for r, got in rows if r["label"] == task]
    return sum(mine) / len(mine)


def test_the_test_half_meets_the_measured_accuracy(
    test_half: list[tuple[dict[str, str], Classification]],
) -> None:
    """A regression guard at what the committed model measured on the untouched half (README)."""
    assert len(test_half) >= 7000
    assert _accuracy(test_half) >= 0.86  # measured 87.6% on 8,726; the issue asks 0.85
    parts: dict[str, list[tuple[dict[str, str], Classification]]] = {}
    for r, got in test_half:
        part = (
            "latest"
            if r["source"] in LATEST
            else "others"
            if r["source"] in OTHER_LANGUAGES
            else "english"
            if r["source"] in NEW_ENGLISH
            else "earlier"
        )
        parts.setdefault(part, []).append((r, got))
    assert _accuracy(parts["earlier"]) >= 0.92  # measured 94.4% on the 1,466 before batch 13
    assert _accuracy(parts["english"]) >= 0.89  # measured 91.6% on 957
    assert _accuracy(parts["others"]) >= 0.83  # measured 84.9% on 5,073
    assert _accuracy(parts["latest"]) >= 0.85  # measured 87.2% on 1,230 (85.3% before them)

    assert _recall(test_half, "complex") >= 0.87  # measured 88.3%; the issue asks 0.80
    assert _recall(test_half, "reasoning") >= 0.91  # measured 92.7%; the issue asks 0.80
    assert _recall(test_half, "code") >= 0.87  # measured 89.0%


def test_prompts_written_after_training_are_read_as_well_as_the_test_half() -> None:
    """bench/data/prompts_unseen.jsonl: five batches by writers who never saw the sets, kept out
    of both halves and never trained on (README, Task classifier)."""
    rows = [json.loads(line) for line in UNSEEN.read_text("utf-8").splitlines()]
    got = [(r, classify(user(r["prompt"]))) for r in rows]
    assert len(got) >= 1500
    assert _accuracy(got) >= 0.91  # measured 92.8% on 1,541 (92.3% by the model before)

    assert _recall(got, "complex") >= 0.90  # measured 91.9%
    assert _recall(got, "reasoning") >= 0.93  # measured 95.6%


def test_confidence_is_calibrated_so_the_escalation_fires_when_unsure(
    test_half: list[tuple[dict[str, str], Classification]],
) -> None:
    unsure = [
        r["label"] == got.task_type for r, got in test_half if got.confidence < LOW_CONFIDENCE
    ]
    sure = [r["label"] == got.task_type for r, got in test_half if got.confidence >= 0.9]
    assert len(unsure) >= 30 and len(sure) >= 300
    assert sum(unsure) / len(unsure) < LOW_CONFIDENCE  # below the line it is wrong that often
    assert sum(sure) / len(sure) >= 0.95


def test_a_long_paste_with_a_simple_ask_is_classified_by_the_ask(
    test_half: list[tuple[dict[str, str], Classification]],
) -> None:
    long_simple = [
        got.task_type == "simple"
        for r, got in test_half
        if r["label"] == "simple" and len(r["prompt"]) > 400
    ]
    assert len(long_simple) >= 250
    # measured 89.9% of 357 since batches 56-63 (the model before them: 91.0% of the same);
    # 91.9% of 296 since batches 20-50, 79.0% before them (65% before the ask split)
    assert sum(long_simple) / len(long_simple) >= 0.88


MODEL = TaskModel.load()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=900), st.lists(st.sampled_from(["sig:math", "cue:code:2", "x"])))
def test_the_fast_path_scores_exactly_like_the_feature_dict(text: str, extra: list[str]) -> None:
    # Training sees featurize(); the origin runs predict(): they must be the same model.
    fast = MODEL.predict(text, extra)
    slow = MODEL.probabilities(featurize(text, extra))
    assert fast == pytest.approx(slow, rel=1e-9, abs=1e-12)


def test_the_loaded_model_keeps_every_weight_it_was_trained_with_in_shared_objects() -> None:
    # Every worker holds the model: equal weights must share one float and one row, or the
    # 200,000 of them cost twice the memory. Sharing must not change a single value.
    stored = json.loads(WEIGHTS_FILE.read_text("utf-8"))["weights"]
    loaded = {**MODEL.terms, **{f"c:{k}": v for k, v in MODEL.grams.items()}}
    assert loaded == {k: tuple(v) for k, v in stored.items()}
    weights = [w for row in loaded.values() for w in row]
    assert len({id(w) for w in weights}) == len({repr(w) for w in weights})
    assert len({id(row) for row in loaded.values()}) == len(set(loaded.values()))
