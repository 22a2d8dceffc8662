"""The desktop window (PySide6). Imports torch only inside the worker thread, lazily."""
