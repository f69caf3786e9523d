"""National caller reputation: keyed hashes of numbers, outcome counts per regency and day."""
