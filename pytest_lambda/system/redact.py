"""Credentials kept out of what the harness prints: messages, progress lines, the header.

A URL's user information (`https://user:password@host/`) is how pip, apt and Docker take a
mirror's or an engine's credentials, so the settings that carry URLs (the Debian mirror, the
`DOCKER_HOST`) may hold a password. Everything the harness says passes through `redact`.
"""

from __future__ import annotations

import re

# scheme://userinfo@ where userinfo has no '/', '@' or whitespace (RFC 3986's authority).
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/@\s'\"]+)@")


def _hide(match: re.Match[str]) -> str:
    user, colon, _secret = match["info"].partition(":")
    # user:password keeps the user; a lone token in the user part (as many mirrors take one)
    # is the secret itself.
    return f"{match['scheme']}{user}:***@" if colon else f"{match['scheme']}***@"


def redact(text: str) -> str:
    """Return `text` with the password (or token) of every URL in it replaced by `***`."""
    return _USERINFO.sub(_hide, text) if "@" in text else text
