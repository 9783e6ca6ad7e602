# watch: colorsys.ONE_THIRD
# culprit-elsewhere: colorsys.py <module> STORE_NAME
# The watched module is not imported yet when the program starts.
import colorsys

colorsys.ONE_THIRD = 0.5  # culprit: STORE_ATTR
