"""Execution environments: the base class with Lambda's variables and lifecycle, host processes,
and Docker containers.
"""
