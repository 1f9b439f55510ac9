"""`prism budgets` and `prism limits`, in-process through main() against the real stand-in."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_cli import env, fetch, new_project, run

__all__ = ["env"]  # the fixture, used by name


def test_budgets_create_list_delete_with_audit(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], pg: Any
) -> None:
    project_id = new_project(capsys, "cli-budgets")
    code, out, _ = run(
        capsys, "budgets", "create", "--project", project_id, "--limit-cents", "250",
        "--period", "week", "--action", "warn", "--tag", "feature=search",
    )  # fmt: skip
    assert code == 0
    budget_id = out.strip()
    code, out, _ = run(capsys, "budgets", "list", "--project", project_id)
    header, row = out.splitlines()
    assert header.split()[:5] == ["ID", "PERIOD", "ACTION", "TAG", "LIMIT_CENTS"]
    assert row.split()[:6] == [budget_id, "week", "warn", "feature=search", "250", "0"]
    code, _, err = run(
        capsys, "budgets", "create", "--project", project_id, "--limit-cents", "lots"
    )
    assert code == 2 and "limit_cents" in err
    assert run(capsys, "budgets", "delete", budget_id)[0] == 0
    assert run(capsys, "budgets", "delete", budget_id)[0] != 0
    events = fetch(
        pg, "select event, actor from policy_audit where project_id = $1 order by created_at",
        project_id,
    )  # fmt: skip
    assert [e["event"] for e in events] == ["budget.created", "budget.deleted"]
    assert all(e["actor"].startswith("cli:") for e in events)


def test_limits_set_and_show(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    project_id = new_project(capsys, "cli-limits")
    code, out, _ = run(capsys, "limits", "set", "--project", project_id, "--preset", "fair-use")
    assert code == 0
    assert out.strip() == f"project {project_id}: rpm=- rpd=1000 rpmonth=30000 tpm=-"
    code, out, _ = run(capsys, "limits", "set", "--project", project_id, "--rpm", "60")
    assert out.strip() == f"project {project_id}: rpm=60 rpd=- rpmonth=- tpm=-"
    code, out, _ = run(capsys, "limits", "show", "--project", project_id)
    assert out.strip() == f"project {project_id}: rpm=60 rpd=- rpmonth=- tpm=-"
    assert run(capsys, "limits", "set", "--project", project_id, "--rpm", "0")[0] == 2
    assert run(capsys, "limits", "set", "--rpm", "5")[0] == 2
