"""The registrar's console (CONTRACT §4: `GET /`, `POST /login`): the province's operators'
pages, served by the node itself beside its JSON API.

`setup.setup_console(app)` installs the Jinja2 environment (templates in templates/, autoescaped:
every value a page shows is text, never markup) and the routes of every module in
ROUTE_MODULES. The rooms:

- sessions.py: who is signed in (in memory; a restart signs everyone out);
- access.py: what a page asks of a request (a session, a registrar's for a change, the CSRF
  token on every form);
- render.py, error_pages.py: a page and an error page with the console's shared context;
- setup.py: the template environment and ROUTE_MODULES;
- one *_routes.py module per page group, each declaring its `ROUTES` (schemas.page_route.Route:
  the handler and its operation in the node's OpenAPI document, from operations.py).

Every change goes through the same parsing, lifecycle rules, registry writes and idempotency
store as the API (province_node.requests, .lifecycle, .registry, .idempotency): the console
cannot allow what the API refuses. Scripts and stylesheets are files under static/ (the CSP
has no 'unsafe-inline'); every page works without them, scripts only add live checks,
progress and refreshes.
"""
