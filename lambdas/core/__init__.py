"""The Lambda workers' core: recipes, errors, safe decoding, image operations and output keys (no AWS)."""
