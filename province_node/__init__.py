"""province_node."""
