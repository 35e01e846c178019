"""The voting machine: sends votes, waits for each answer, and its run loop."""
