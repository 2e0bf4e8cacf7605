"""Conductor task `image_multiple_convert_resize`: the dynamic-fork planner."""
