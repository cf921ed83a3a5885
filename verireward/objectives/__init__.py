"""Layer 2: differentiable objectives (torch): the policy-gradient losses of GRCA and AP-GRPO, SPA's
preference loss with DPO and SimPO, and W2R2's loss."""
