"""The train/ scripts' shared plumbing: config merging, loop arguments and the newest checkpoint."""

import pytest

from hf_causal.core.run_config import load_run_config, loop_arguments, newest_checkpoint

DEFAULTS = {"seed": 0, "model": {"width": 8, "depth": 2},
            "train": {"max_steps": 10, "learning_rate": 1e-3, "weight_decay": 0.0, "warmup_steps": 1,
                      "max_grad_norm": 1.0, "gradient_accumulation_steps": 1, "mixed_precision": "no",
                      "eval_every": 5, "save_every": 5}}


def test_defaults_then_file_then_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("seed: 3\nmodel:\n  width: 16\ntrain:\n")  # an empty section keeps its defaults
    cfg = load_run_config(DEFAULTS, str(path), ["model.depth=4", "seed=5", "train.mixed_precision=no"])
    assert cfg["model"] == {"width": 16, "depth": 4} and cfg["seed"] == 5
    assert cfg["train"]["max_steps"] == 10 and cfg["train"]["mixed_precision"] is False  # YAML's bare no
    assert DEFAULTS["model"]["width"] == 8  # the defaults are not modified
    with pytest.raises(ValueError, match="section.key=value"):
        load_run_config(DEFAULTS, None, ["model=3"])


def test_loop_arguments_and_newest_checkpoint(tmp_path):
    args = loop_arguments(DEFAULTS["train"], tmp_path, progress=False, description="x", skip_nonfinite=True)
    assert (args.max_steps, args.eval_every, args.save_every, args.save_last) == (10, 5, 5, True)
    assert args.skip_nonfinite and args.mixed_precision == "no" and args.output_dir == str(tmp_path)
    with pytest.raises(SystemExit, match="no checkpoint-"):
        newest_checkpoint(tmp_path)
    for step in (9, 10, 500, 60):
        (tmp_path / f"checkpoint-{step}").mkdir()
    assert newest_checkpoint(tmp_path).name == "checkpoint-500"  # by step, not by name


def test_threads_limit_torch_and_the_blas_pools():
    """``--threads 1`` sets torch's and every BLAS/OpenMP pool's size to 1; no flag leaves them; bad values are
    named. (The limits are restored afterwards: they are process-wide.)"""
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    from hf_causal.core.run_config import limit_threads, run_parser

    assert run_parser("x", "configs").parse_args(["--output-dir", "o"]).threads is None
    assert run_parser("x", "configs").parse_args(["--output-dir", "o", "--threads", "1"]).threads == 1
    before_torch, before_pools = torch.get_num_threads(), threadpool_info()
    try:
        limit_threads(None)
        assert torch.get_num_threads() == before_torch
        limit_threads(1)
        assert torch.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
        for bad in (0, -2, 1.5, True):
            with pytest.raises(ValueError, match="positive integer"):
                limit_threads(bad)
    finally:
        torch.set_num_threads(before_torch)
        for pool in before_pools:
            threadpool_limits(pool["num_threads"], user_api=pool["user_api"])
