"""Technology (energy, area, leakage) tables and typed lookups over them.

    from archsim.tech import load_tech_table
    t = load_tech_table("40nm")
    t.sram_access(32 * 1024, 64, "read")   # Cost(value≈11.3, unit='pJ', source='sram.fits.lstp.read: ...')
    t.mac()                                # int8 x int8 + 32-b accumulate, pJ
    t.dram_kind("LPDDR4")                  # DramSpec(pj_per_bit=8.0, bandwidth_bytes_per_s=12.8e9, ...)

Tables are YAML files in archsim/tables/ (format: archsim/tables/README.md, schema: `schema`).
Node-to-node normalisation of published numbers lives in `scaling`.
"""

from archsim.tech.scaling import area_factor, energy_factor, scale_area, scale_energy, scaling_table
from archsim.tech.table import (
    Cost,
    DramSpec,
    TechMeta,
    TechTable,
    builtin_nodes,
    load_tech_table,
    table_from_mapping,
)

__all__ = [
    "Cost", "DramSpec", "TechMeta", "TechTable", "builtin_nodes", "load_tech_table", "table_from_mapping",
    "scale_energy", "scale_area", "energy_factor", "area_factor", "scaling_table",
]
