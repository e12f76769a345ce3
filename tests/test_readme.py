"""The README opens with the two newcomer commands, and CI runs exactly the test one."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _shell_blocks(text: str) -> list[str]:
    blocks, inside, cur = [], False, []
    for line in text.splitlines():
        if line.startswith("```"):
            if inside:
                blocks.append("\n".join(cur).strip())
                cur = []
            inside = not inside and line.strip() == "```bash"
            continue
        if inside:
            cur.append(line)
    return blocks


def test_ci_runs_the_readme_test_command() -> None:
    blocks = _shell_blocks((ROOT / "README.md").read_text())
    main_job, test_cmd = blocks[0], blocks[1]
    assert "pip install" in main_job
    assert "examples.rag_bert.train" in main_job
    assert "pip install" in test_cmd
    assert "pytest" in test_cmd
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci_lines
