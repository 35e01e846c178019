"""The bridge: filtered Pub/Sub subscriptions in, Dramatiq actor messages out."""
