"""The node's operator HTTP API: the app factory, its keys, the error middleware, the routes."""
