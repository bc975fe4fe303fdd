"""Code on disk: digests, safe unpacking and size checks, layers merged into /opt, and the
cache's leases and pruning.
"""
