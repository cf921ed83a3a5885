"""Reference trainers: read them to see how verireward's objectives plug into a loop; run them to
check a setup end to end. See :mod:`verireward.trainers.base` for the shared loop."""

from verireward.trainers.ap_grpo import AP_MODES, APGRPOConfig, APGRPOTrainer, first_number, numeric_records
from verireward.trainers.base import RLConfig, RLTrainer, Rollout, SupervisedConfig, TrainerBase, default_build_inputs
from verireward.trainers.grca import GRCA_MODES, GRCAConfig, GRCATrainer, grounding_records
from verireward.trainers.spa import SPAConfig, SPATrainer
from verireward.trainers.w2r2 import W2R2Config, W2R2Trainer

__all__ = ["RLConfig", "RLTrainer", "Rollout", "default_build_inputs", "GRCAConfig", "GRCATrainer", "grounding_records",
           "GRCA_MODES", "APGRPOConfig", "APGRPOTrainer", "numeric_records", "first_number", "AP_MODES",
           "SupervisedConfig", "TrainerBase", "W2R2Config", "W2R2Trainer", "SPAConfig", "SPATrainer"]
