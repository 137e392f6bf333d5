"""One module per page (dash.register_page); layouts are functions so data is fetched per request."""
