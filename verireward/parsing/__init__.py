"""Layer 2: reading what a model wrote: the schema, the one-object and many-object parsers, the
frame the model saw, and token offsets in decoded text."""
