"""verireward: exact, batched rewards and verifiers for RL post-training of vision-language models
on 2D/3D geometry (boxes, keypoints, cameras).

Every op accepts torch tensors (CPU or CUDA) or numpy arrays and returns the same kind on the same
device; see ``verireward.geometry`` for the conventions.
"""

from __future__ import annotations

from typing import Any, Dict

from verireward._native import _C
from verireward import data, geometry, grpo, losses, metrics, numeric, parse as _parse_module, points, preference, tokens, verifier, w2r2
from verireward.geometry import (
    iou_2d,
    iou_3d,
    keypoint_containment,
    pairwise_iou_2d,
    pairwise_iou_3d,
    pinhole_camera,
    project_box_3d,
    rpc,
)
from verireward.grpo import ap_grpo_advantages, char_to_token_spans, group_standardize, routed_advantages
from verireward.losses import ap_grpo_loss, grca_loss
from verireward.numeric import (
    SharpnessSchedule,
    advantage_variance,
    composite_reward,
    convergence_step,
    discrete_error,
    sharpness,
    snra,
    squared_error,
)
from verireward.parse import Field, ParsedBatch, Schema, parse
from verireward.objects import ParsedObjects, parse_objects
from verireward.points import MaskedPoints, farthest_point_sampling, knn_indices, mask_point_patches
from verireward.preference import dpo_loss, sequence_logprob, simpo_loss, spa_loss, token_logprob
from verireward.w2r2 import box_similarity, shortcut_features, token_likelihood_similarity, w2r2_loss
from verireward.verifier import GroundingVerifier, VerifierOutput
from verireward.metrics import grounding_metrics, mra
from verireward.tokens import token_char_offsets
from verireward import detection, frames, oriented, pipeline, set_grca, sets
from verireward.detection import DetectionMAP, detection_map
from verireward.sets import Match, SetRewards, answer_set_rewards, match_boxes, set_rewards
from verireward.set_grca import SetGRCAResult, grca_set_advantages, route_set_credit
from verireward.frames import qwen_resized_size
from verireward.oriented import (
    box_corners_3d,
    iou_2d_rotated,
    iou_3d_oriented,
    pairwise_iou_2d_rotated,
    pairwise_iou_3d_oriented,
    rotation_matrix,
)
from verireward.pipeline import GRCAResult, Verified, grca_advantages

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


__all__ = ["__version__", "build_info", "cuda_available", *geometry.__all__, *grpo.__all__, *losses.__all__, *_parse_module.__all__, "ParsedObjects", "parse_objects", *verifier.__all__, "grounding_metrics", "mra", *tokens.__all__,
           *numeric.__all__, *preference.__all__, *w2r2.__all__,
           *points.__all__, *pipeline.__all__, *oriented.__all__, *frames.__all__, *sets.__all__, *set_grca.__all__, *detection.__all__]
