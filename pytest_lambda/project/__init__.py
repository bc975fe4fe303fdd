"""Dependency builds: a function's or a layer's requirements installed for its runtime and
architecture, cached, and laid under the code.
"""
