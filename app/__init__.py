"""Siaga112: a multi-tenant platform for Indonesia's 112 emergency call centres."""
