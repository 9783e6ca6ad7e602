# watch: __main__.WHEN
# A datetime is an immutable value: rebinding to an equal one is no change.
import datetime

WHEN = datetime.date(2024, 1, 1)  # culprit: STORE_NAME
WHEN = datetime.date(2024, 1, 1)
WHEN = datetime.date(2024, 1, 2)  # culprit: STORE_NAME
