"""Throwaway servers and synthetic stores for the tests, the benchmarks and ``headroom demo``.

No stage package (store, collectors, forecasting, alerts, dashboard) imports it.
"""
