# watch: __main__.ARR
# requires: numpy
# A numpy array's insides are hidden: it is tracked by identity, so
# rebinding is a change and in-place changes are not seen.
import numpy as np

ARR = np.zeros(3)  # culprit: STORE_NAME
ARR[0] = 5
ARR = np.ones(3)  # culprit: STORE_NAME
ARR[0] = 5
ARR += 1
