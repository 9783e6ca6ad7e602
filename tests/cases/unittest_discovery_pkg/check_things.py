import unittest

import __main__

__main__.RESULTS.append("imported")  # culprit: CALL


class Things(unittest.TestCase):
    def test_records(self):
        __main__.RESULTS.append("ran")  # culprit: CALL
