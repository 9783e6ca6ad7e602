import os

from inventory import price


def test_whole_numbers():
    os.environ["INVENTORY_MODE"] = "whole"      # leaks into every later test
    assert price(2.4) == "2 EUR"


def test_monkeypatched_mode(monkeypatch):
    monkeypatch.setenv("INVENTORY_MODE", "whole")  # undone at teardown: not a leak
    assert price(2.6) == "3 EUR"


def test_dollars(dollars):
    assert price(1.5) == "1.50 USD"


def test_cents():
    assert price(2.345) == "2.35 EUR"            # fails after test_whole_numbers
