"""The function model and its validation: runtimes, architectures, Lambda's quotas, names and
ARNs, and the harness's settings.
"""
