"""Grid events: physical faults injected with their ground truth, detectors that find
them in the stored readings, and the scoring that compares the two.

`kinds` names what can happen to which asset and holds the thresholds every
detector (and the ground truth of conditions such as reverse power flow) reads.
"""
