"""Benchmarks for the gate, against the blueprint's sorted-set limiter in the same run.

`python -m bench` starts a throwaway redis-server and the project's local Upstash REST server
on loopback, runs every measurement, prints each table, and stops everything. Numbers are
measured here rather than asserted in timed tests, where machine noise would make them flaky.
"""
