"""Docker execution environments: containers from runtime images, the in-container agent and
its tunnels for engines elsewhere, and `/tmp` as disk.
"""
