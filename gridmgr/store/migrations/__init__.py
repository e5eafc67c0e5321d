"""Alembic migrations of the gridmgr store (run by ``Store.upgrade()`` / ``gridmgr db upgrade``)."""
