"""Publishing: export the built marts to the lake, the catalogs and versions readers open, Iceberg, clean-up."""
