"""VEE: validation, estimation and editing of meter readings, as billing needs them.

`rules` flags readings that cannot be right (each rule one expression with its reason),
`estimate` replaces the intervals that are missing or invalid, `backtest` measures how
close the estimates come to the truth. Storage keeps originals, estimates and the audit.
"""
