"""Caller location: plausibility checks on fixes (AML or the location-share link) and the choice of
the fix a call shows."""
