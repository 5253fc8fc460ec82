"""One router per resource: auth (login/logout), queue, items, admin."""
