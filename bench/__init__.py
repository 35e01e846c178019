"""``election bench``: throughput, latency and CPU cost of the system, against the floor the
emulator itself sets; and the storage cost per voter and per vote."""
