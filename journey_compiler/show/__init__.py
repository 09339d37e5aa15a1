"""What people look at: the journey drawn with its live counts, and the metric marts as tables."""
