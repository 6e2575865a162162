import pytest

from tests.browser.harness import blocking_browser, browser, player_page, playwright_driver  # noqa: F401


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: runs in headless Chromium (skipped without playwright/chromium)")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can save a screenshot on failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
