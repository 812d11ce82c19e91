"""The deterministic world: domain models, storage, inventory, promise, carriers, sourcing.

Imports nothing else of execlayer's.
"""
