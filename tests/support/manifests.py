"""The manifest the election tests declare: election 4201 of README's example, with times
far ahead so that it stays a draft until a test opens it."""

#: Names its roll ``roll-4201.txt``, next to the manifest.
MANIFEST = """\
id = "4201"
title = "Water board 2027"
choices = ["North", "South", "East"]
roll = "roll-4201.txt"
opens_at = 2099-03-01T08:00:00Z
closes_at = 2099-03-01T20:00:00Z
"""
