"""Report figures (PNG/SVG) for comparisons and sweeps; see `plots`."""

from archsim.report.plots import (
    ENERGY_CATEGORIES,
    ENERGY_COLOURS,
    plot_ablation,
    plot_area_breakdown,
    plot_energy_breakdown,
)

__all__ = ["ENERGY_CATEGORIES", "ENERGY_COLOURS", "plot_ablation", "plot_area_breakdown", "plot_energy_breakdown"]
