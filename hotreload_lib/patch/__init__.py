"""The patch registry: who replaced what and how to undo it, function objects patched in place, and
where a target lives."""
