"""Masking ablation summaries: per-arm intervals and differences to random paired by seed."""

from __future__ import annotations

import json

import pytest

from examples.rag_bert import ablation


def _run(seed: int, f1: float, r2: float) -> dict:
    bins = {c: {"f1": f1, "r2": r2} for c in ablation.COLUMNS}
    return {"seed": seed, "val": bins, "val_loss": 0.1}


def _results(arms: dict[str, list[tuple[int, float, float]]]) -> dict:
    base = {c: {"f1": 0.5, "r2": 0.4} for c in ablation.COLUMNS}
    return {
        "arms": {a: [_run(*x) for x in runs] for a, runs in arms.items()},
        "baselines": {"nearest_copy": base},
        "train_flags": [],
        "seeds": [1, 2, 3],
    }


def test_paired_differences_match_by_seed():
    res = _results({
        # listed out of seed order: pairs are made by seed, not by position
        "random": [(2, 0.80, 0.70), (1, 0.90, 0.70), (3, 0.85, 0.70)],
        "better": [(1, 0.92, 0.71), (2, 0.82, 0.70), (3, 0.87, 0.69)],
        "noisy": [(1, 0.95, 0.70), (2, 0.78, 0.70), (3, 0.85, 0.70)],
        "loses_r2": [(1, 0.92, 0.60), (2, 0.82, 0.61), (3, 0.87, 0.59)],
    })  # fmt: skip
    rows = {r["arm"]: r for r in ablation.paired(res)}
    assert set(rows) == {"better", "noisy", "loses_r2"}
    # every seed +0.02: zero spread, so the interval is 0 and the arm beats random
    assert rows["better"]["f1"][0] == pytest.approx(0.02)
    assert rows["better"]["f1"][1] == pytest.approx(0.0, abs=1e-12)
    assert rows["better"]["seeds"] == 3
    assert rows["better"]["beats"]
    # +0.05, -0.02, 0.00: mean +0.01 with an interval reaching below 0
    assert rows["noisy"]["f1"][0] == pytest.approx(0.01)
    assert rows["noisy"]["f1"][0] - rows["noisy"]["f1"][1] < 0
    assert not rows["noisy"]["beats"]
    # better F1 but r² lower at every seed: not a win
    assert rows["loses_r2"]["r2"][0] == pytest.approx(-0.1)
    assert not rows["loses_r2"]["beats"]


def test_paired_needs_random_and_two_seeds():
    assert ablation.paired(_results({"a": [(1, 0.9, 0.7)], "b": [(1, 0.8, 0.7)]})) == []
    one = ablation.paired(_results({"random": [(1, 0.8, 0.7)], "a": [(1, 0.9, 0.8)]}))
    assert one[0]["seeds"] == 1
    assert not one[0]["beats"]  # one seed has no interval
    # an arm with no seed in common with random is left out
    assert ablation.paired(_results({"random": [(1, 0.8, 0.7)], "a": [(2, 0.9, 0.8)]})) == []


def test_merge_writes_both_tables(tmp_path):
    parts = []
    for arm, runs in {
        "random": [(1, 0.80, 0.70), (2, 0.82, 0.70)],
        "better": [(1, 0.83, 0.71), (2, 0.85, 0.71)],
    }.items():
        f = tmp_path / f"{arm}.json"
        f.write_text(json.dumps(_results({arm: runs})))
        parts.append(str(f))
    out = tmp_path / "merged"
    assert ablation.main(["--out", str(out), "--merge", *parts]) == 0
    md = (out / "ablation.md").read_text()
    assert "| random | 0.810 ± " in md
    assert "| better | 2 | +0.030 ± 0.000 | +0.010 ± 0.000 | yes |" in md
    assert (out / "ablation.png").stat().st_size > 0


def test_merge_joins_runs_split_by_seed():
    first = _results({"random": [(1, 0.80, 0.7), (2, 0.81, 0.7)], "a": [(1, 0.82, 0.7)]})
    more = _results({"random": [(4, 0.79, 0.7), (2, 0.81, 0.7)], "a": [(4, 0.83, 0.7)]})
    res = ablation.merge([first, more])
    assert [r["seed"] for r in res["arms"]["random"]] == [1, 2, 4]  # seed 2 once, in order
    assert [r["seed"] for r in res["arms"]["a"]] == [1, 4]
    assert res["seeds"] == [1, 2, 4]
    assert ablation.paired(res)[0]["seeds"] == 2
    # the same run listed twice, with a NaN score (a bin without minor alleles), is one run
    nan = _results({"random": [(1, 0.80, float("nan"))]})
    again = json.loads(json.dumps(nan))
    assert len(ablation.merge([nan, again])["arms"]["random"]) == 1


def test_merge_refuses_two_different_runs_under_one_seed(tmp_path, capsys):
    a = _results({"random": [(1, 0.80, 0.7)]})
    b = _results({"random": [(1, 0.85, 0.7)]})
    with pytest.raises(ValueError, match="random seed 1 has two different results"):
        ablation.merge([a, b])
    fa, fb = tmp_path / "a.json", tmp_path / "b.json"
    fa.write_text(json.dumps(a))
    fb.write_text(json.dumps(b))
    assert ablation.main(["--out", str(tmp_path / "m"), "--merge", str(fa), str(fb)]) == 2
    assert "two different results" in capsys.readouterr().err
    assert ablation.main(["--out", str(tmp_path / "m"), "--merge", str(tmp_path / "no.json")]) == 2
    (tmp_path / "other.json").write_text(json.dumps({"history": []}))
    assert (
        ablation.main(["--out", str(tmp_path / "m"), "--merge", str(tmp_path / "other.json")]) == 2
    )
    assert "not an ablation.json" in capsys.readouterr().err
