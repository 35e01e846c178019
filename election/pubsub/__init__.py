"""Pub/Sub adapters: the one client factory, the raw hot-path calls, the filtered subscriber."""
