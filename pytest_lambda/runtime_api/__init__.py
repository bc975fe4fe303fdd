"""runtime_api."""
