"""Layer 1: the kernels' wrappers, one module per op folder of ``csrc/`` (arrays in, arrays out).
Nothing here parses text or knows a schema."""
