"""The ``web`` process: public, read-only views of the elections over HTTP.

``election web`` serves :func:`web.app.build_app` with uvicorn. It reads PostgreSQL
only: no voter ID is ever in its hands, and nothing it offers links a voter to a ballot.
"""
