"""Whether a bind address is reachable only from this machine.

Examples
--------
>>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("::1")
(True, True, True)
>>> is_loopback("0.0.0.0"), is_loopback("192.168.1.10"), is_loopback("::")
(False, False, False)
"""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """True for loopback addresses and ``localhost``; wildcard and LAN addresses are exposed."""
    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost: assume it resolves beyond loopback
