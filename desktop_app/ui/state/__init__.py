"""The window's Qt-free logic (no Qt, no torch): what is on screen, the messages to and from
the worker, export formats and the overlay's pixels. Tested without widgets."""
