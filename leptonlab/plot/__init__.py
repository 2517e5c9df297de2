"""Figures for the course. The only module of leptonlab that imports matplotlib.

Every function returns a :class:`matplotlib.figure.Figure` (closed in pyplot, so
a notebook shows it once, as the cell's value).
"""

from leptonlab.plot._style import new_figure as new_figure
from leptonlab.plot._descent import descent_paths as descent_paths
from leptonlab.plot._descent import gradient_agreement as gradient_agreement
from leptonlab.plot._descent import loss_curves as loss_curves
from leptonlab.plot._descent import step_size_errors as step_size_errors
from leptonlab.plot._training import image_grid as image_grid
from leptonlab.plot._training import regression_fit as regression_fit
from leptonlab.plot._training import training_curves as training_curves
from leptonlab.plot._functions import activation_functions as activation_functions
from leptonlab.plot._functions import function_curves as function_curves
from leptonlab.plot._functions import loss_surfaces as loss_surfaces
from leptonlab.plot._functions import timing_bars as timing_bars
