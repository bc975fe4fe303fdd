"""The Docker engine as the harness uses it: the client, labels, session networks, the sweep of
what killed sessions left, and the host firewall.
"""
