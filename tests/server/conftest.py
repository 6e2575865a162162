"""Markers for the server tests."""


def pytest_configure(config):
    config.addinivalue_line("markers", "piper: uses the piper neural voice (slower)")
