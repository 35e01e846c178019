"""Local tooling for throwaway namespaces: the emulator's control and clean-up (tests,
demo, bench)."""
