"""leptonlab.plot's notebook-16 figures: time to accuracy and channel means, with clear errors."""

import numpy as np
import pytest
from _train_helpers import history_of
from matplotlib.figure import Figure

from leptonlab import plot


def test_plot_time_to_accuracy_and_channel_means():
    h1 = history_of(
        [
            {"epoch": 1, "seconds": 1.0, "val_accuracy": 0.3},
            {"epoch": 2, "seconds": 1.0, "val_accuracy": 0.6},
        ]
    )
    h2 = history_of([{"epoch": 1, "seconds": 3.0, "val_accuracy": 0.5}])
    fig = plot.time_to_accuracy({"a": h1, "b": h2}, target=0.5)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1.0, 2.0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "target 50%"]
    with pytest.raises(ValueError, match="non-empty dict"):
        plot.time_to_accuracy({})
    with pytest.raises(TypeError, match="not a leptonlab.train.History"):
        plot.time_to_accuracy({"a": [0.1]})
    with pytest.raises(ValueError, match="needs the metrics 'val_top5'"):
        plot.time_to_accuracy({"a": h1}, metric="val_top5")
    with pytest.raises(ValueError, match="target must be an accuracy"):
        plot.time_to_accuracy({"a": h1}, target=50)
    fig = plot.channel_means({"train": [0.49, 0.48, 0.45], "test": [0.5, 0.48, 0.44]})
    assert len(fig.axes[0].patches) == 6
    with pytest.raises(ValueError, match="expected one per channel"):
        plot.channel_means({"train": [0.1, 0.2]})
