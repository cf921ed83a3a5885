"""Layer 3: rewards of decoded answers: the grounding verifier (per field, RPC), one-to-one set
rewards for many objects, and the smooth numeric rewards (SNRA)."""
