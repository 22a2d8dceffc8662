"""Qt objects that do the window's work without widgets of their own: the inference worker
and background pool, the menus' actions, and one controller per concern (model, opened
images, live sources, exports)."""
