"""verireward: exact, batched rewards and verifiers for RL post-training of vision-language models
on 2D/3D geometry (boxes, keypoints, cameras).

Every op accepts torch tensors (CPU or CUDA) or numpy arrays and returns the same kind on the same
device; see :mod:`verireward.ops.box_iou` for the conventions. The package is built in layers
(``docs/architecture.md``): ``ops`` (one module per kernel folder of ``csrc/``), ``parsing``,
``objectives``, ``rewards``, ``metrics``/``data``, ``grca``, then ``trainers``/``integrations``
and ``cli``. Everything a user calls is re-exported here.
"""

from __future__ import annotations

from typing import Any, Dict

from verireward._native import _C
from verireward import data, metrics  # noqa: F401 - vr.data and vr.metrics, as before
from verireward.ops.box_iou import iou_2d, iou_3d, pairwise_iou_2d, pairwise_iou_3d
from verireward.ops.project_box import pinhole_camera, project_box_3d, rpc
from verireward.ops.containment import keypoint_containment
from verireward.ops.oriented import (box_corners_3d, iou_2d_rotated, iou_3d_oriented, pairwise_iou_2d_rotated,
                                     pairwise_iou_3d_oriented, rotation_matrix)
from verireward.ops.grpo import (Distributed, Standardization, ap_grpo_advantages, char_to_token_spans, group_standardize,
                                 routed_advantages)
from verireward.ops.points import MaskedPoints, farthest_point_sampling, knn_indices, mask_point_patches
from verireward.ops.match import Match, SetRewards, match_boxes, set_rewards
from verireward.ops.detection import DetectionMAP, detection_map
from verireward.parsing.schema import Field, Schema
from verireward.parsing.fields import ParsedBatch, parse
from verireward.parsing.objects import ParsedObjects, parse_objects
from verireward.parsing.frames import qwen_resized_size
from verireward.parsing.tokens import token_char_offsets
from verireward.objectives.policy import ap_grpo_loss, grca_loss
from verireward.objectives.preference import dpo_loss, sequence_logprob, simpo_loss, spa_loss, token_logprob
from verireward.objectives.w2r2 import box_similarity, shortcut_features, token_likelihood_similarity, w2r2_loss
from verireward.rewards.grounding import GroundingVerifier, VerifierOutput
from verireward.rewards.numeric import (SharpnessSchedule, advantage_variance, composite_reward, convergence_step,
                                        discrete_error, sharpness, snra, squared_error)
from verireward.rewards.sets import answer_set_rewards
from verireward.metrics import grounding_metrics, mra
from verireward.grca.fields import GRCAResult, Verified, grca_advantages
from verireward.grca.objects import SetGRCAResult, grca_set_advantages, route_set_credit

__version__: str = _C.build_info()["version"]


def build_info() -> Dict[str, Any]:
    """What the compiled module contains.

    Keys: ``version``; ``cuda`` (bool: CUDA kernels compiled in); ``cuda_version`` and
    ``cuda_architectures`` (the nvcc version and the comma-separated SM list, or None);
    ``openmp`` (bool) and ``cpu_threads`` (OpenMP's thread count); ``compiler``.
    """
    return dict(_C.build_info())


def cuda_available() -> bool:
    """True when verireward was built with CUDA and a CUDA device can be used now.

    Never raises: a CUDA build on a machine without a GPU or driver answers False.
    """
    return bool(_C.build_info()["cuda"]) and _C.cuda_device_count() > 0


__all__ = [
    "__version__", "build_info", "cuda_available",
    # ops: geometry
    "iou_2d", "iou_3d", "pairwise_iou_2d", "pairwise_iou_3d", "project_box_3d", "rpc", "pinhole_camera",
    "keypoint_containment", "rotation_matrix", "box_corners_3d", "iou_2d_rotated", "pairwise_iou_2d_rotated",
    "iou_3d_oriented", "pairwise_iou_3d_oriented",
    # ops: advantages, points, matching, detection
    "group_standardize", "ap_grpo_advantages", "routed_advantages", "char_to_token_spans", "Standardization",
    "Distributed",
    "farthest_point_sampling", "knn_indices", "mask_point_patches", "MaskedPoints",
    "match_boxes", "Match", "set_rewards", "SetRewards", "detection_map", "DetectionMAP",
    # parsing
    "Field", "Schema", "ParsedBatch", "parse", "ParsedObjects", "parse_objects", "qwen_resized_size",
    "token_char_offsets",
    # objectives
    "grca_loss", "ap_grpo_loss", "spa_loss", "dpo_loss", "simpo_loss", "sequence_logprob", "token_logprob",
    "shortcut_features", "box_similarity", "token_likelihood_similarity", "w2r2_loss",
    # rewards and metrics
    "GroundingVerifier", "VerifierOutput", "snra", "sharpness", "SharpnessSchedule", "squared_error",
    "discrete_error", "composite_reward", "advantage_variance", "convergence_step", "answer_set_rewards",
    "grounding_metrics", "mra",
    # GRCA
    "grca_advantages", "GRCAResult", "Verified", "grca_set_advantages", "SetGRCAResult", "route_set_credit",
]
