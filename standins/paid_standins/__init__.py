"""Paid's stand-ins: what makes the whole loop runnable on one machine with no GitHub and no model provider.

A separate distribution (`paid-standins`), never a dependency of the product: the forge (a local GitHub),
the scripted model (reached through litellm like any provider), the offline stack that starts both with a
`paid.yaml` pointing at them, and the in-process runner that ticks the label sensor and runs what it asks
for, as the daemon would. `paid demo`, `paid forge serve` and the tests use them; production never does.
"""
