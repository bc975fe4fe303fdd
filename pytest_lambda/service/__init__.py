"""The emulated Lambda service: `LambdaService` makes functions and runs their invocations
(pools, cold and warm starts, deadlines, reports), the registry of functions, versions and
aliases, and asynchronous invocation with its destinations.
"""
