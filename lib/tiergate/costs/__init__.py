"""Unit economics: what each request costs to serve, and whether each tier makes money."""
