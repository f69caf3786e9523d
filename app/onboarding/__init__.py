"""Regency onboarding: the public signup wizard and Kominfo's verification and activation."""
