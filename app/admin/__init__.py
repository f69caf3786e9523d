"""The regency admin's own configuration pages: OPDs, categories and routing, users, areas."""
