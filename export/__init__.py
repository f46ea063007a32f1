"""Taking trained networks to other simulators: :mod:`brian2learn.export.nest` (NEST 3.10)."""
