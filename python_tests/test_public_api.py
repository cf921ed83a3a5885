"""The public API is unchanged by the restructure into layers (0.2.0): every name ``vr.__all__`` held
before is still there and still the same object under ``import verireward as vr``, and the
adapters' and trainers' module paths still hold the names they exported (the frozen lists below
are what 0.1.0 exported). Renamed names keep working, with a warning."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import verireward as vr

BEFORE = [
    "DetectionMAP", "Field", "GRCAResult", "GroundingVerifier", "MaskedPoints", "Match", "ParsedBatch",
    "ParsedObjects", "Schema", "SetGRCAResult", "SetRewards", "SharpnessSchedule", "Verified",
    "VerifierOutput", "__version__", "advantage_variance", "answer_set_rewards", "ap_grpo_advantages",
    "ap_grpo_loss", "box_corners_3d", "box_similarity", "build_info", "char_to_token_spans",
    "composite_reward", "convergence_step", "cuda_available", "detection_map", "discrete_error", "dpo_loss",
    "farthest_point_sampling", "grca_advantages", "grca_loss", "grca_set_advantages", "grounding_metrics",
    "group_standardize", "iou_2d", "iou_2d_rotated", "iou_3d", "iou_3d_oriented", "keypoint_containment",
    "knn_indices", "mask_point_patches", "match_boxes", "mra", "pairwise_iou_2d", "pairwise_iou_2d_rotated",
    "pairwise_iou_3d", "pairwise_iou_3d_oriented", "parse", "parse_objects", "pinhole_camera",
    "project_box_3d", "qwen_resized_size", "rotation_matrix", "route_set_credit", "routed_advantages", "rpc",
    "sequence_logprob", "set_rewards", "sharpness", "shortcut_features", "simpo_loss", "snra", "spa_loss",
    "squared_error", "token_char_offsets", "token_likelihood_similarity", "token_logprob", "w2r2_loss",
]

MODULES = {
    "verireward.integrations.trl": [
        "APGRPOTrainer", "GRCAGRPOTrainer", "GroundingRewards", "NumericRewards", "SetGRCAGRPOTrainer",
        "SetRewardFunctions",
    ],
    "verireward.integrations.verl": [
        "ESTIMATORS", "ap_grpo_advantage", "compute_score", "compute_score_batch", "compute_score_numeric",
        "compute_score_set", "configure", "grca_advantage", "grca_set_advantage",
    ],
    "verireward.integrations.easyr1": [
        "REWARD_NAME", "REWARD_TYPE", "compute_score", "grca_set_advantage",
    ],
    "verireward.integrations.openrlhf": [
        "grca_set_advantage", "make_reward_func", "response_of", "reward_func",
    ],
    "verireward.trainers": [
        "APGRPOConfig", "APGRPOTrainer", "AP_MODES", "GRCAConfig", "GRCATrainer", "GRCA_MODES", "RLConfig",
        "RLTrainer", "Rollout", "SPAConfig", "SPATrainer", "SupervisedConfig", "TrainerBase", "W2R2Config",
        "W2R2Trainer", "default_build_inputs", "first_number", "grounding_records", "numeric_records",
    ],
}


def test_every_name_of_the_public_api_is_still_there():
    missing = [n for n in BEFORE if n not in vr.__all__ or not hasattr(vr, n)]
    assert not missing, missing
    assert len(vr.__all__) == len(set(vr.__all__))
    assert all(hasattr(vr, n) for n in vr.__all__)


def test_star_import_gives_exactly_all():
    ns: dict = {}
    exec("from verireward import *", ns)
    assert set(ns) - {"__builtins__"} == set(vr.__all__)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_the_adapters_module_paths_still_export_their_names(module):
    m = importlib.import_module(module)
    renamed = {"APGRPOTrainer"} if module == "verireward.integrations.trl" else set()
    missing = [n for n in MODULES[module] if n not in renamed and n not in m.__all__]
    assert not missing, missing


def test_the_renamed_trl_trainer_still_imports_with_a_warning():
    pytest.importorskip("trl")
    import verireward.integrations.trl as vtrl

    with pytest.warns(DeprecationWarning, match="NumericGRPOTrainer"):
        old = vtrl.APGRPOTrainer
    assert old is vtrl.NumericGRPOTrainer
    from verireward.trainers import APGRPOTrainer

    assert APGRPOTrainer is not old  # the reference trainer keeps the name


def test_the_command_line_runs_as_a_module():
    out = subprocess.run([sys.executable, "-m", "verireward.cli", "--version"], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0 and vr.__version__ in out.stdout, out.stderr
