"""Login throttling: failed attempts per account and per client, and a bound on password hashing.

* After :attr:`LoginThrottle.account_limit` failures for one user name within
  :attr:`LoginThrottle.window` seconds, that name is locked for the rest of the window, and the
  same for :attr:`LoginThrottle.client_limit` failures from one client address; a locked attempt
  answers 429 with ``Retry-After`` before any password is hashed. A success clears the account.
* At most :attr:`LoginThrottle.concurrent_hashes` password checks run at once (each Argon2id
  check takes ~19 MiB and ~20 ms): a flood of logins queues briefly, then gets 503 with
  ``Retry-After``, instead of eating the server's memory and CPU.

State is per worker process (a restart forgets it), which bounds guessing to the limits times
the number of workers.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


class Throttled(Exception):
    """A login refused before checking the password; ``retry_after`` seconds, HTTP ``status``."""

    def __init__(self, retry_after: int, status: int = 429) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = max(1, retry_after)
        self.status = status


@dataclass
class LoginThrottle:
    """Failure counters per account and per client, and the password-check semaphore."""

    account_limit: int = 5
    client_limit: int = 20
    window: float = 900.0
    concurrent_hashes: int = 2
    queue_seconds: float = 2.0
    max_keys: int = 100_000
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _hashing: threading.BoundedSemaphore = field(init=False)

    def __post_init__(self) -> None:
        self._hashing = threading.BoundedSemaphore(self.concurrent_hashes)

    def check(self, account: str, client: str) -> None:
        """Raise :class:`Throttled` when the account or the client is locked."""
        now = time.monotonic()
        with self._lock:
            for key, limit in (
                (f"a:{account}", self.account_limit),
                (f"c:{client}", self.client_limit),
            ):
                hits = self._recent(key, now)
                if len(hits) >= limit:
                    raise Throttled(int(hits[0] + self.window - now) + 1)

    def client_retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try again, or ``None`` when it is not locked (the cheap
        check :class:`api.middleware.LoginGate` makes before a login request is even read)."""
        now = time.monotonic()
        with self._lock:
            hits = self._recent(f"c:{client}", now)
            if len(hits) >= self.client_limit:
                return max(1, int(hits[0] + self.window - now) + 1)
        return None

    def failed(self, account: str, client: str) -> None:
        """Count a failed attempt against the account and the client."""
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > self.max_keys:  # bounded memory under a spray of names
                self._failures.clear()
            for key in (f"a:{account}", f"c:{client}"):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, account: str) -> None:
        """Forget the account's failures after a correct password."""
        with self._lock:
            self._failures.pop(f"a:{account}", None)

    @contextmanager
    def hashing(self) -> Iterator[None]:
        """Hold one of the password-check slots (503 after :attr:`queue_seconds` of waiting)."""
        if not self._hashing.acquire(timeout=self.queue_seconds):
            raise Throttled(1, status=503)
        try:
            yield
        finally:
            self._hashing.release()

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._failures.get(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits
