"""Fake PSA/RMM servers that behave as the vendors document, as WSGI apps.

Each fake is usable in-process through ``httpx.WSGITransport`` (see :func:`transport`)
and on a real loopback socket through the ``serve`` fixture of ``tests/connectors/conftest.py``.
"""
