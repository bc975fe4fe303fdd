"""What the operating system gives the harness: the cache directory, cross-process locks, real
clocks, child processes tied to pytest, and redaction of credentials.
"""
