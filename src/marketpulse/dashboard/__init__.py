"""The Dash dashboard: multi-page, live, reading everything through the API."""
