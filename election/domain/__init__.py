"""Pure domain rules: votes, the wire protocol, filters, outcomes, signatures and keyed
secrecy. Nothing here imports an I/O library (``tests/unit/test_layout.py``)."""
