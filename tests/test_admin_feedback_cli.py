"""`prism feedback` prints one line per task type and model, worst quality first as stored."""

from __future__ import annotations

import io

from origin.admin.feedback_cli import print_feedback


def test_table_has_a_line_per_task_type_and_model_with_dashes_for_missing_scores() -> None:
    out = io.StringIO()
    rows = [
        {"task_type": "complex", "model": "gpt-4o-mini", "ratings": 4, "thumbs_up": 0,
         "thumbs_down": 4, "avg_score": None, "quality": 0.0},
        {"task_type": "simple", "model": "gpt-4o-mini", "ratings": 2, "thumbs_up": 1,
         "thumbs_down": 0, "avg_score": 4.0, "quality": 0.875},
    ]  # fmt: skip
    print_feedback(rows, out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == [
        "task_type", "model", "ratings", "thumbs_up", "thumbs_down", "avg_score", "quality"
    ]  # fmt: skip
    assert lines[1].split() == ["complex", "gpt-4o-mini", "4", "0", "4", "-", "0.0"]
    assert lines[2].split() == ["simple", "gpt-4o-mini", "2", "1", "0", "4.0", "0.875"]


def test_no_feedback_says_so() -> None:
    out = io.StringIO()
    print_feedback([], out)
    assert out.getvalue() == "no rated answers yet\n"
