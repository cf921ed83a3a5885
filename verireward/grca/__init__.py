"""Layer 5: GRCA in one call: per-field advantages routed to the tokens that wrote each field
(``fields``) and per-object credit for answers with many objects (``objects``)."""
