"""A tiny application whose tests pollute each other (the spyrec pytest sample)."""
import os

HANDLERS = []
SETTINGS = {"currency": "EUR", "rounding": 2}


def register(handler):
    HANDLERS.append(handler)


def price(amount):
    places = 0 if os.environ.get("INVENTORY_MODE") == "whole" else SETTINGS["rounding"]
    return f"{round(amount, places):.{places}f} {SETTINGS['currency']}"
