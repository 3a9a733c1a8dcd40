"""The numbers behind each panel: one small module per source of data."""
