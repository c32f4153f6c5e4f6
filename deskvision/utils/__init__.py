"""Small shared helpers (progress bars, devices, seeding)."""
