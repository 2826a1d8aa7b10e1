"""Static reference data for province_node, as Python modules so it installs with the package."""
