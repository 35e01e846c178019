"""Pure domain rules: votes, the wire protocol, filters, outcomes, signatures and keyed
secrecy, and the verifiable ballot log (Merkle tree, receipts, signed checkpoints, proof
documents). Nothing here imports an I/O library (``tests/unit/test_layout.py``)."""
