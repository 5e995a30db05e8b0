"""File helpers shared by the stages: atomic writes, completeness markers, manifests."""
