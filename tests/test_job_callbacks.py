"""Hydra's per-job callbacks (``on_job_start``/``on_job_end``) see every job of a population, as
Hydra's basic launcher shows them every job: a user's callback in ``hydra.callbacks``."""

from __future__ import annotations

import json
import math

import pytest

import alphalab
from tests.conftest import store_uri


@pytest.mark.slow  # a whole sweep, end to end
def test_a_users_job_callback_sees_every_population_member_start_and_end(tmp_path):
    seen = tmp_path / "seen.jsonl"
    sweep_dir = tmp_path / "multirun"
    callback = "+hydra.callbacks.seen"
    result = alphalab.sweep(
        [
            "+debug=fast",
            "train.epochs=3",
            f"hydra.sweep.dir={sweep_dir}",
            f"{callback}._target_=tests.user_callbacks.JobsSeen",
            f"{callback}.path={seen}",
        ],
        grid=([0.2, 1.0], [2.0]),
        tracking_uri=store_uri(tmp_path),
    )
    lines = [json.loads(line) for line in seen.read_text().splitlines()]
    starts = [line for line in lines if line["event"] == "start"]
    ends = [line for line in lines if line["event"] == "end"]
    assert sorted(s["num"] for s in starts) == [0, 1, 2, 3]  # 2 cells x 2 approaches
    assert sorted(e["num"] for e in ends) == [0, 1, 2, 3]
    assert lines.index(ends[0]) > lines.index(starts[-1])  # one population: all start, then end
    assert all(s["callable"] for s in starts)
    runs = result.runs
    for end in ends:
        assert end["status"] == "COMPLETED" and end["hydra_num"] == end["num"]
        folder = sweep_dir / str(end["num"])
        assert end["output_dir"] == str(folder) and (folder / ".hydra" / "config.yaml").is_file()
        real = end["cfg_alpha"][0]
        assert f"alpha.real={real}" in end["overrides"]
        approach = next(o.split("=")[1] for o in end["overrides"] if o.startswith("approach="))
        mine = runs[(runs.kind == "run") & (runs.approach == approach)]
        mine = mine[mine.start_alpha_real == real]
        assert len(mine) == 1
        assert math.isfinite(end["value"])
        assert end["value"] == pytest.approx(float(mine.final_val_loss.iloc[0]), rel=1e-6)
    start_of = {s["num"]: s for s in starts}
    for end in ends:
        assert start_of[end["num"]]["alpha"] == end["cfg_alpha"]
        assert start_of[end["num"]]["output_dir"] == end["output_dir"]
