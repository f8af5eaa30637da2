"""Named input presets (``fast``, ``balanced``, ``stringent``) in YAML, one file per workchain."""
