"""Triage tells a hang from a heavy input: a budget finding is replayed with
1023 times the work budget, and only one that runs out again is a finding.

data/e1000-heavy-tso.bin is a real input of a 10-minute e1000 campaign: TSO
storms of tiny segments that need 16-64x the default budget of the clean
model, then finish.
"""

import unittest
from pathlib import Path

from helpers import REPLAY, require_binary
from hvfuzzlib import findings

HEAVY = Path(__file__).resolve().parent / "data" / "e1000-heavy-tso.bin"


class BudgetRecheck(unittest.TestCase):
    def setUp(self):
        require_binary(REPLAY, "fuzz-e1000")

    def test_heavy_input_is_no_finding(self):
        rep = findings.replay_input("e1000", HEAVY, timeout=30)
        self.assertEqual(rep.tri.kind, "")
        self.assertIn("kind=budget", rep.report)
        self.assertIn("finished clean, so a heavy input", rep.report)

    def test_without_the_larger_budget_it_is_a_hang(self):
        saved = findings.BUDGET_RECHECK_FACTOR
        findings.BUDGET_RECHECK_FACTOR = 1
        try:
            rep = findings.replay_input("e1000", HEAVY, timeout=30)
        finally:
            findings.BUDGET_RECHECK_FACTOR = saved
        self.assertEqual(rep.tri.kind, "hang")
        self.assertTrue(rep.tri.site.startswith("targets/e1000/"), rep.tri.site)


if __name__ == "__main__":
    unittest.main()
