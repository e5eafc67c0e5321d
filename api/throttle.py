"""Login throttling: failed attempts per account and per client, and a bound on password hashing.

* After :attr:`LoginThrottle.account_limit` failed attempts for one user name within
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

    def begin(self, account: str, client: str) -> None:
        """Count a login attempt against the account and the client, or raise :class:`Throttled`
        when either is locked.

        Checking and counting are one step under the lock, so a burst of parallel guesses cannot
        all pass the check before any of them is counted; :meth:`succeeded` takes the attempt
        back when the password was right.
        """
        now = time.monotonic()
        keys = ((f"a:{account}", self.account_limit), (f"c:{client}", self.client_limit))
        with self._lock:
            for key, limit in keys:
                hits = self._recent(key, now)
                if len(hits) >= limit:
                    raise Throttled(int(hits[0] + self.window - now) + 1)
            if len(self._failures) >= self.max_keys:
                self._evict(now)
            for key, _limit in keys:
                if key in self._failures or len(self._failures) < self.max_keys:
                    self._failures.setdefault(key, deque()).append(now)

    def client_retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try again, or ``None`` when it is not locked (the cheap
        check :class:`api.middleware.LoginGate` makes before a login request is even read)."""
        now = time.monotonic()
        with self._lock:
            hits = self._recent(f"c:{client}", now)
            if len(hits) >= self.client_limit:
                return max(1, int(hits[0] + self.window - now) + 1)
        return None

    def succeeded(self, account: str, client: str) -> None:
        """A right password: forget the account's failures and take back the client's attempt."""
        with self._lock:
            self._failures.pop(f"a:{account}", None)
            hits = self._failures.get(f"c:{client}")
            if hits:
                hits.pop()

    def _evict(self, now: float) -> None:
        """Make room: drop expired entries, then keys that are not locked. Never an active lock
        (clearing everything would let a spray of names reset the lock on a real account)."""
        for key in list(self._failures):
            if not self._recent(key, now):
                del self._failures[key]
        if len(self._failures) < self.max_keys:
            return
        for key in list(self._failures):
            limit = self.account_limit if key.startswith("a:") else self.client_limit
            if len(self._failures[key]) < limit:
                del self._failures[key]
                if len(self._failures) < self.max_keys * 0.9:
                    return

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
