"""Stores: the Peewee models of the voting record and the one Redis client factory."""
