"""Figures for the course. The only module of leptonlab that imports matplotlib.

Every function returns a :class:`matplotlib.figure.Figure` (closed in pyplot, so
a notebook shows it once, as the cell's value).
"""

from leptonlab.plot._style import new_figure as new_figure
