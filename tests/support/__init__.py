"""Helpers the tests share: test data, fakes, the child-process runner."""
