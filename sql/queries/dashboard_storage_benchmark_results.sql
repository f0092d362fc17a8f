-- Dashboard, Storage: query medians and p95 per variant and storage of one benchmark run.
SELECT query_name, variant, storage, median_ms, p95_ms, repetitions, result_rows
FROM benchmark_results
WHERE run_id = %(run_id)s
ORDER BY query_name, variant, storage
