"""A stock report whose prices go wrong half-way through. Who changed CONFIG?

`CONFIG` is module-level configuration. `promo_prices()` means to work on a
copy of it for one promotion, but `rates = CONFIG` is not a copy: the
promotion's discount stays in CONFIG, and every price after it is discounted.

    import inventory, spyrec
    with spyrec.record(watch=["inventory.CONFIG"]) as rec:
        inventory.main()
    rec.last_change("inventory.CONFIG")     # the STORE_SUBSCR in promo_prices

samples/postmortem.ipynb records it and finds the culprit. As a script
(`spyrec run -w __main__.CONFIG samples/inventory.py`) the module is __main__.
"""

CONFIG = {"currency": "USD", "tax": 0.20, "discount": 0.0, "rounding": 2}

STOCK = {"apple": 0.50, "pear": 0.80, "melon": 2.50}


def price(item: str) -> float:
    net = STOCK[item] * (1 - CONFIG["discount"])
    return round(net * (1 + CONFIG["tax"]), CONFIG["rounding"])


def promo_prices(items, extra: float) -> dict:
    rates = CONFIG                     # meant to be CONFIG.copy()
    rates["discount"] = round(rates["discount"] + extra, 2)
    return {item: price(item) for item in items}


def set_currency(currency: str) -> None:
    CONFIG["currency"] = currency      # a legitimate change, before the bug


def main() -> dict:
    set_currency("EUR")
    before = {item: price(item) for item in STOCK}
    promo = promo_prices(["melon"], extra=0.10)
    after = {item: price(item) for item in STOCK}
    for item in STOCK:
        print(f"{item:6} {before[item]:5.2f} -> {after[item]:5.2f} {CONFIG['currency']}")
    print("promotion:", promo)
    return after


if __name__ == "__main__":
    main()
