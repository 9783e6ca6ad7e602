# watch: warnings.filters
# preload: warnings
# culprit-elsewhere: warnings.py catch_warnings.__enter__ STORE_ATTR
# culprit-elsewhere: warnings.py _add_filter CALL
# culprit-elsewhere: warnings.py catch_warnings.__exit__ STORE_ATTR
# Rebinding warnings.filters to an equal copy is a change (kind "rebound"):
# later in-place changes happen to the copy. catch_warnings() does it on
# entry, simplefilter() inserts into the copy, and __exit__ puts the
# original list back. After that, in-place changes to the original count.
import warnings

warnings.filters = warnings.filters[:]  # culprit: STORE_ATTR
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
warnings.filters.pop()  # culprit: CALL
