"""Pure image and result handling: no torch, no Qt."""
